package store

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestConsumersEnterTransactionsWithInTx: outside the store packages, the composition root
// (internal/app) and the test-helper packages, no code names store.Store as the type of a
// parameter, result, field or variable: every consumer declares the narrow interface it uses
// (issue 7 item 19), and enters a transaction with InTx and a narrow view of its own rather
// than opening one by hand with a callback that takes the whole store (`st.Tx(ctx, func(tx
// store.Store) error {…})`). The compile-time checks `var _ X = store.Store(nil)` are
// conversions, not types, and stay allowed. Tests are exempt.
func TestConsumersEnterTransactionsWithInTx(t *testing.T) {
	t.Parallel()
	root := ".." // internal/
	exempt := map[string]bool{"store": true, "app": true}
	fset := token.NewFileSet()
	var found []string
	isStore := func(e ast.Expr) bool {
		sel, ok := e.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "Store" {
			return false
		}
		pkg, ok := sel.X.(*ast.Ident)
		return ok && pkg.Name == "store"
	}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			rel, _ := filepath.Rel(root, path)
			if exempt[rel] || strings.HasSuffix(d.Name(), "test") {
				return filepath.SkipDir // the backends, the composition root, test helpers
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if isStore(n.Type) {
					found = append(found, fset.Position(n.Pos()).String())
				}
			case *ast.ValueSpec:
				if n.Type != nil && isStore(n.Type) {
					found = append(found, fset.Position(n.Pos()).String())
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range found {
		t.Errorf("%s: takes the whole store.Store: declare a narrow interface (and use store.InTx with a narrow view for a transaction)", at)
	}
}
