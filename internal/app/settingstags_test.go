package app

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestSettingsHaveNoYAMLTags: destination and source settings travel only
// as JSON (config-file settings are maps turned into JSON; the CLI turns
// YAML into JSON first), so a yaml tag on their structs is read by nothing
// and only suggests a second format to keep in step.
func TestSettingsHaveNoYAMLTags(t *testing.T) {
	fset := token.NewFileSet()
	for _, root := range []string{"../sink", "../source"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				field, ok := n.(*ast.Field)
				if !ok || field.Tag == nil {
					return true
				}
				tag, err := strconv.Unquote(field.Tag.Value)
				if err != nil {
					t.Errorf("%s: tag %s: %v", fset.Position(field.Pos()), field.Tag.Value, err)
					return true
				}
				if v, ok := reflect.StructTag(tag).Lookup("yaml"); ok {
					t.Errorf("%s: got yaml tag %q, want none (settings are JSON only)", fset.Position(field.Pos()), v)
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
