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

// TestConsumersEnterTransactionsWithInTx: outside the store packages, no code opens a
// transaction by hand with a callback that takes the whole Store (`st.Tx(ctx, func(tx
// store.Store) error {…})`): consumers use InTx with a narrow view of their own, so what a
// transaction may touch is declared where it is used and every transaction goes through the
// one helper. Tests (which drive the store itself) are exempt.
func TestConsumersEnterTransactionsWithInTx(t *testing.T) {
	t.Parallel()
	root := ".." // internal/
	fset := token.NewFileSet()
	var found []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path == filepath.Join(root, "store") {
				return filepath.SkipDir // the store packages implement and check Tx itself
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
			lit, ok := n.(*ast.FuncLit)
			if !ok || lit.Type.Params == nil {
				return true
			}
			for _, p := range lit.Type.Params.List {
				if sel, ok := p.Type.(*ast.SelectorExpr); ok && sel.Sel.Name == "Store" {
					if pkg, ok := sel.X.(*ast.Ident); ok && pkg.Name == "store" {
						found = append(found, fset.Position(lit.Pos()).String())
					}
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
		t.Errorf("%s: a function taking the whole store.Store (a transaction opened by hand?): use store.InTx with a narrow view", at)
	}
}
