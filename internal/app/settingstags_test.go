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

// TestSourceTypesDescribeTheirSettings: the console's add form is drawn
// from each source type's Fields, so every type has them, every secret
// is a write-only field and every field is a setting the type accepts.
func TestSourceTypesDescribeTheirSettings(t *testing.T) {
	for name, typ := range sourceTypes(nil, "http://127.0.0.1") {
		fields := typ.Fields()
		if len(fields) == 0 {
			t.Errorf("%s: no fields", name)
			continue
		}
		kinds := map[string]string{}
		for _, f := range fields {
			kinds[f.Path] = f.Kind
		}
		for _, p := range typ.SecretPaths {
			if k, ok := kinds[p]; ok && k != "secret" {
				t.Errorf("%s: secret %s: got kind %q, want secret", name, p, k)
			}
		}
		if k := kinds["auth.type"]; k != "choice" {
			t.Errorf("%s: auth.type: got kind %q, want choice", name, k)
		}
	}
	okta := sourceTypes(nil, "")["okta"].Fields()
	if okta[0].Path != "baseUrl" || !okta[0].Required {
		t.Errorf("okta: got first field %+v, want baseUrl, required", okta[0])
	}
}
