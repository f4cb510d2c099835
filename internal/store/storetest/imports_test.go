package storetest

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestKnowsNoBackend: the conformance suite imports no storage backend, so that every backend
// — not only the one it happened to be written beside — can run it unchanged.
func TestKnowsNoBackend(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(path, "github.com/sleutelbos/sleutelbos/internal/store/") {
				t.Errorf("%s imports %s: the suite must know no backend", name, path)
			}
			if strings.Contains(path, "pgx") || strings.Contains(path, "sqlite") || path == "database/sql" {
				t.Errorf("%s imports the database driver or package %s", name, path)
			}
		}
	}
}
