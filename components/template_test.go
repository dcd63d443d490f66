// Package components_test checks that every component package follows the one component
// template (STYLE.md, contract C1), so that a new or changed component cannot drift from it
// unnoticed.
package components_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// notComponents are the directories that hold no Pulumi component: shared internals, the
// mock monitor, the monitoring as code (rules, dashboards, routing as plain data) and the Helm
// release, a resource of the Kubernetes provider registered as the SDK would.
var notComponents = []string{"internal", "mocks", "observability", "helmrelease"}

func TestEveryComponentFollowsTheTemplate(t *testing.T) {
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	checked := 0
	for _, e := range entries {
		if !e.IsDir() || slices.Contains(notComponents, e.Name()) || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		problems, components := checkPackage(t, e.Name())
		assert.Empty(t, problems, "package %s drifts from the component template", e.Name())
		assert.NotZero(t, components, "package %s registers no component (add it to notComponents if it holds none)", e.Name())
		checked++
	}
	assert.GreaterOrEqual(t, checked, 8, "component packages found")
}

// The checker itself must see a drift: a package written the old way fails on each rule.
func TestTemplateCheckSeesDrift(t *testing.T) {
	dir := t.TempDir()
	pkg := filepath.Join(dir, "legacy")
	require.NoError(t, os.Mkdir(pkg, 0o755))
	src := `package legacy

import (
	"errors"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

var Exports = []string{"a"}

type Thing struct{ pulumi.ResourceState }

type Args struct{ N int }

func (a *Args) validate() error {
	var p []string
	if a.N < 1 {
		p = append(p, "n")
	}
	return errors.New(strings.Join(p, "; "))
}

func New(ctx *pulumi.Context, name string, args Args, opts ...pulumi.ResourceOption) (*Thing, error) {
	t := &Thing{}
	return t, ctx.RegisterComponentResource("cantondex:other:Thing", name, t, opts...)
}
`
	require.NoError(t, os.WriteFile(filepath.Join(pkg, "legacy.go"), []byte(src), 0o644))
	problems, _ := checkPackage(t, pkg)
	all := strings.Join(problems, "\n")
	for _, want := range []string{
		"exported package variable Exports",
		"New registers a component but is not named New<Type>",
		"validate of Args has a pointer receiver",
		"validate of Args does not build its error with errors.Join",
	} {
		assert.Contains(t, all, want, "drift not reported")
	}
}

// checkPackage parses the non-test files of dir and returns what breaks the template, and how
// many components it registers.
func checkPackage(t *testing.T, dir string) (problems []string, components int) {
	t.Helper()
	fset := token.NewFileSet()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	var files []*ast.File
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, 0)
		require.NoError(t, err, "parse %s", n)
		files = append(files, f)
	}
	pkgName := filepath.Base(dir)
	report := func(pos token.Pos, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: %s", fset.Position(pos), fmt.Sprintf(format, args...)))
	}
	{
		types := map[string]*ast.TypeSpec{}
		validates := map[string]*ast.FuncDecl{} // by receiver type name
		var funcs []*ast.FuncDecl
		for _, f := range files {
			for _, decl := range f.Decls {
				switch d := decl.(type) {
				case *ast.GenDecl:
					for _, spec := range d.Specs {
						switch s := spec.(type) {
						case *ast.ValueSpec:
							if d.Tok != token.VAR {
								continue
							}
							for _, n := range s.Names {
								if n.IsExported() {
									report(n.Pos(), "exported package variable %s: make it an Args field with a Default%s() function, or unexported", n.Name, n.Name)
								}
							}
						case *ast.TypeSpec:
							types[s.Name.Name] = s
						}
					}
				case *ast.FuncDecl:
					funcs = append(funcs, d)
					if d.Recv != nil && d.Name.Name == "validate" {
						validates[receiverType(d)] = d
					}
				}
			}
		}
		for recv, v := range validates {
			args := strings.TrimPrefix(recv, "*")
			if strings.HasPrefix(recv, "*") {
				report(v.Pos(), "validate of %s has a pointer receiver; validation reads, it does not default", args)
			}
			if !callsErrorsJoin(v) {
				report(v.Pos(), "validate of %s does not build its error with errors.Join", args)
			}
		}
		for _, fn := range funcs {
			tok, pos, ok := registeredToken(fn)
			if !ok {
				continue
			}
			components++
			typ, named := strings.CutPrefix(fn.Name.Name, "New")
			if fn.Recv != nil || !named || typ == "" {
				report(fn.Pos(), "%s registers a component but is not named New<Type>", fn.Name.Name)
				continue
			}
			if want := "cantondex:" + pkgName + ":" + typ; tok != want {
				report(pos, "%s registers type token %q, want %q", fn.Name.Name, tok, want)
			}
			if _, ok := types[typ]; !ok {
				report(fn.Pos(), "%s: no type %s", fn.Name.Name, typ)
			}
			if _, ok := types[typ+"Args"]; !ok {
				report(fn.Pos(), "%s: no type %sArgs", fn.Name.Name, typ)
			}
			if got, want := signature(fn), fmt.Sprintf("(*pulumi.Context, string, %sArgs, ...pulumi.ResourceOption) (*%s, error)", typ, typ); got != want {
				report(fn.Pos(), "%s has signature %s, want %s", fn.Name.Name, got, want)
			}
			v := validates[typ+"Args"]
			if v == nil {
				v = validates["*"+typ+"Args"]
			}
			if v == nil {
				report(fn.Pos(), "%sArgs has no validate() error", typ)
			} else if !callsValidateFirst(fn) {
				report(fn.Pos(), "%s does not start with args.validate()", fn.Name.Name)
			}
		}
	}
	return problems, components
}

// registeredToken finds ctx.RegisterComponentResource("<token>", ...) in fn.
func registeredToken(fn *ast.FuncDecl) (tok string, pos token.Pos, ok bool) {
	if fn.Body == nil {
		return "", 0, false
	}
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		call, isCall := n.(*ast.CallExpr)
		if !isCall || ok {
			return !ok
		}
		if sel, isSel := call.Fun.(*ast.SelectorExpr); isSel && sel.Sel.Name == "RegisterComponentResource" && len(call.Args) > 0 {
			if lit, isLit := call.Args[0].(*ast.BasicLit); isLit {
				tok, _ = strconv.Unquote(lit.Value)
			}
			pos, ok = call.Pos(), true
		}
		return true
	})
	return tok, pos, ok
}

func receiverType(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return ""
	}
	return exprString(fn.Recv.List[0].Type)
}

func callsErrorsJoin(fn *ast.FuncDecl) bool {
	found := false
	ast.Inspect(fn.Body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := sel.X.(*ast.Ident); ok && id.Name == "errors" && sel.Sel.Name == "Join" {
				found = true
			}
		}
		return !found
	})
	return found
}

// callsValidateFirst reports whether the constructor's first statement checks args.validate().
func callsValidateFirst(fn *ast.FuncDecl) bool {
	if fn.Body == nil || len(fn.Body.List) == 0 {
		return false
	}
	is, ok := fn.Body.List[0].(*ast.IfStmt)
	if !ok {
		return false
	}
	init, ok := is.Init.(*ast.AssignStmt)
	return ok && len(init.Rhs) == 1 && exprString(init.Rhs[0]) == "args.validate()"
}

// signature renders fn's parameter and result types.
func signature(fn *ast.FuncDecl) string {
	list := func(fl *ast.FieldList) []string {
		var out []string
		if fl == nil {
			return out
		}
		for _, f := range fl.List {
			n := max(len(f.Names), 1)
			for range n {
				out = append(out, exprString(f.Type))
			}
		}
		return out
	}
	return "(" + strings.Join(list(fn.Type.Params), ", ") + ") (" + strings.Join(list(fn.Type.Results), ", ") + ")"
}

func exprString(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.StarExpr:
		return "*" + exprString(x.X)
	case *ast.SelectorExpr:
		return exprString(x.X) + "." + x.Sel.Name
	case *ast.Ellipsis:
		return "..." + exprString(x.Elt)
	case *ast.CallExpr:
		return exprString(x.Fun) + "()"
	default:
		return fmt.Sprintf("%T", e)
	}
}
