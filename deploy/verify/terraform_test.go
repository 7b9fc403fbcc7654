package verify

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

func terraformDir(t testing.TB) string { return filepath.Join(repoRoot(t), "deploy", "terraform") }

// TestTerraformFmt runs the pinned terraform's fmt check over every module and example.
func TestTerraformFmt(t *testing.T) {
	tf := tool(t, "terraform")
	out, errb, err := run(t, terraformDir(t), nil, tf, "fmt", "-check", "-recursive", "-diff", ".")
	if err != nil {
		t.Fatalf("terraform fmt -check -recursive: %v\nfiles not formatted (run `%s fmt -recursive deploy/terraform`):\n%s%s", err, tf, out, errb)
	}
}

// tfModule is what the checks need to know of one Terraform module (a directory of .tf files).
type tfModule struct {
	dir       string
	variables map[string]*tfVariable
	outputs   map[string]*hclsyntax.Block
	locals    map[string]hclsyntax.Expression
	resources map[string]bool // "type.name"
	data      map[string]bool // "type.name"
	calls     map[string]*hclsyntax.Block
	// providerConfigs are the provider blocks: "helm" for a default configuration,
	// "helm.us_east" for an alias.
	providerConfigs map[string]bool
	required        map[string]bool // required_providers names
	refs            []tfRef
	files           []string
}

type tfVariable struct {
	block                        *hclsyntax.Block
	hasDefault, hasType, hasDesc bool
}

type tfRef struct {
	traversal hcl.Traversal
	inBlock   string // the top-level block it is in, e.g. `module "dns"`
}

// metaArgs of module blocks are not input variables.
var metaArgs = map[string]bool{"source": true, "version": true, "providers": true, "count": true, "for_each": true, "depends_on": true}

func loadModule(t *testing.T, dir string) *tfModule {
	t.Helper()
	m := &tfModule{dir: dir, variables: map[string]*tfVariable{}, outputs: map[string]*hclsyntax.Block{},
		locals: map[string]hclsyntax.Expression{}, resources: map[string]bool{}, data: map[string]bool{},
		calls: map[string]*hclsyntax.Block{}, providerConfigs: map[string]bool{}, required: map[string]bool{}}
	files, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	if len(files) == 0 {
		t.Fatalf("%s: no .tf files", dir)
	}
	p := hclparse.NewParser()
	for _, f := range files {
		m.files = append(m.files, filepath.Base(f))
		file, diags := p.ParseHCLFile(f)
		if diags.HasErrors() {
			t.Fatalf("%s: %s", f, diags.Error())
		}
		body := file.Body.(*hclsyntax.Body)
		if len(body.Attributes) > 0 {
			t.Errorf("%s: top-level attributes are not Terraform", f)
		}
		for _, b := range body.Blocks {
			switch b.Type {
			case "variable":
				v := &tfVariable{block: b}
				_, v.hasDefault = b.Body.Attributes["default"]
				_, v.hasType = b.Body.Attributes["type"]
				if d, ok := b.Body.Attributes["description"]; ok {
					if val, diags := d.Expr.Value(nil); !diags.HasErrors() && val.Type() == cty.String && strings.TrimSpace(val.AsString()) != "" {
						v.hasDesc = true
					}
				}
				m.variables[b.Labels[0]] = v
			case "output":
				m.outputs[b.Labels[0]] = b
			case "locals":
				for name, a := range b.Body.Attributes {
					m.locals[name] = a.Expr
				}
			case "resource":
				m.resources[b.Labels[0]+"."+b.Labels[1]] = true
			case "data":
				m.data[b.Labels[0]+"."+b.Labels[1]] = true
			case "module":
				m.calls[b.Labels[0]] = b
			case "provider":
				name := b.Labels[0]
				if a, ok := b.Body.Attributes["alias"]; ok {
					val, _ := a.Expr.Value(nil)
					name += "." + val.AsString()
				}
				m.providerConfigs[name] = true
			case "terraform":
				for _, tb := range b.Body.Blocks {
					if tb.Type == "required_providers" {
						for name := range tb.Body.Attributes {
							m.required[name] = true
						}
					}
				}
			}
			where := b.Type
			if len(b.Labels) > 0 {
				where += " " + strings.Join(b.Labels, ".")
			}
			m.refs = append(m.refs, collectRefs(b, where)...)
		}
	}
	return m
}

// collectRefs returns the references in a block, leaving out names bound by for
// expressions and dynamic blocks, and module blocks' providers maps (checked apart).
func collectRefs(b *hclsyntax.Block, where string) []tfRef {
	bound := map[string]bool{}
	hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
		switch n := n.(type) {
		case *hclsyntax.ForExpr:
			if n.KeyVar != "" {
				bound[n.KeyVar] = true
			}
			bound[n.ValVar] = true
		case *hclsyntax.Block:
			if n.Type == "dynamic" && len(n.Labels) == 1 {
				bound[n.Labels[0]] = true
				if it, ok := n.Body.Attributes["iterator"]; ok {
					bound[hcl.ExprAsKeyword(it.Expr)] = true
				}
			}
		}
		return nil
	})
	// Not references: a module's providers map (checked apart) and a variable's type
	// constraint (string, map(object({...}))).
	var skip hclsyntax.Expression
	if a, ok := b.Body.Attributes["providers"]; ok && b.Type == "module" {
		skip = a.Expr
	}
	if a, ok := b.Body.Attributes["type"]; ok && b.Type == "variable" {
		skip = a.Expr
	}
	var refs []tfRef
	hclsyntax.VisitAll(b.Body, func(n hclsyntax.Node) hcl.Diagnostics {
		if skip != nil {
			if r := n.Range(); r.Filename == skip.Range().Filename && r.Start.Byte >= skip.Range().Start.Byte && r.End.Byte <= skip.Range().End.Byte {
				return nil
			}
		}
		if st, ok := n.(*hclsyntax.ScopeTraversalExpr); ok && !bound[st.Traversal.RootName()] {
			refs = append(refs, tfRef{traversal: st.Traversal, inBlock: where})
		}
		return nil
	})
	return refs
}

func attrName(tr hcl.Traversal, i int) string {
	if i >= len(tr) {
		return ""
	}
	if a, ok := tr[i].(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// terraformModules returns every directory under deploy/terraform that holds .tf files.
func terraformModules(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(terraformDir(t), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && strings.HasPrefix(d.Name(), ".") && p != terraformDir(t) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".tf") && !slices.Contains(dirs, filepath.Dir(p)) {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(dirs)
	return dirs
}

// TestTerraformReferences parses every .tf file of every module and example with HCL and
// checks what `terraform validate` would, as far as it can without providers: references to
// variables, locals, resources, data sources, modules and their outputs, module inputs, and
// provider wiring.
func TestTerraformReferences(t *testing.T) {
	dirs := terraformModules(t)
	for _, want := range []string{"modules/region", "modules/cockroachdb", "modules/consul", "modules/dns", "examples/three-regions"} {
		if !slices.Contains(dirs, filepath.Join(terraformDir(t), want)) {
			t.Errorf("deploy/terraform/%s is missing", want)
		}
	}
	mods := map[string]*tfModule{}
	for _, dir := range dirs {
		mods[dir] = loadModule(t, dir)
	}
	for _, dir := range dirs {
		rel, _ := filepath.Rel(terraformDir(t), dir)
		t.Run(rel, func(t *testing.T) { checkModule(t, mods[dir], mods) })
	}
}

var builtinRoots = map[string]bool{"var": true, "local": true, "module": true, "data": true, "path": true,
	"terraform": true, "count": true, "each": true, "self": true}

func checkModule(t *testing.T, m *tfModule, mods map[string]*tfModule) {
	for name, v := range m.variables {
		if !v.hasDesc {
			t.Errorf("variable %q has no description", name)
		}
		if !v.hasType {
			t.Errorf("variable %q has no type", name)
		}
	}
	for name, o := range m.outputs {
		if _, ok := o.Body.Attributes["description"]; !ok {
			t.Errorf("output %q has no description", name)
		}
	}
	used := map[string]bool{}
	for _, r := range m.refs {
		tr, root := r.traversal, r.traversal.RootName()
		switch root {
		case "var":
			name := attrName(tr, 1)
			used[name] = true
			if _, ok := m.variables[name]; !ok {
				t.Errorf("%s: var.%s is not declared", r.inBlock, name)
			}
		case "local":
			if _, ok := m.locals[attrName(tr, 1)]; !ok {
				t.Errorf("%s: local.%s is not defined", r.inBlock, attrName(tr, 1))
			}
		case "data":
			if key := attrName(tr, 1) + "." + attrName(tr, 2); !m.data[key] {
				t.Errorf("%s: data.%s is not declared", r.inBlock, key)
			}
		case "module":
			name := attrName(tr, 1)
			call, ok := m.calls[name]
			if !ok {
				t.Errorf("%s: module.%s is not called here", r.inBlock, name)
				continue
			}
			// module.NAME.OUTPUT, or module.NAME[i].OUTPUT with count.
			out := attrName(tr, 2)
			if out == "" {
				out = attrName(tr, 3)
			}
			if child := childModule(t, m, call, mods); child != nil && out != "" {
				if _, ok := child.outputs[out]; !ok {
					t.Errorf("%s: module.%s.%s: %s has no output %q", r.inBlock, name, out, relDir(t, child.dir), out)
				}
			}
		case "path", "terraform", "count", "each", "self":
		default:
			if key := root + "." + attrName(tr, 1); !m.resources[key] {
				t.Errorf("%s: %s is not a resource of this module", r.inBlock, key)
			}
		}
	}
	for name := range m.variables {
		if !used[name] {
			t.Errorf("variable %q is declared but never used", name)
		}
	}
	// Every provider a resource needs is required (terraform_data is built in).
	for key := range mergeSets(m.resources, m.data) {
		typ := strings.SplitN(key, ".", 2)[0]
		if typ == "terraform_data" {
			continue
		}
		if prov := strings.SplitN(typ, "_", 2)[0]; !m.required[prov] {
			t.Errorf("%s uses provider %q, which required_providers does not list", key, prov)
		}
	}
	for name, call := range m.calls {
		checkCall(t, m, name, call, mods)
	}
	// A README documents the module: every variable and output by name.
	readme, err := os.ReadFile(filepath.Join(m.dir, "README.md"))
	if err != nil {
		t.Errorf("no README.md: %v", err)
		return
	}
	for name := range m.variables {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document variable `%s`", name)
		}
	}
	for name := range m.outputs {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document output `%s`", name)
		}
	}
}

func mergeSets(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func relDir(t *testing.T, dir string) string {
	r, err := filepath.Rel(terraformDir(t), dir)
	if err != nil {
		return dir
	}
	return r
}

func childModule(t *testing.T, m *tfModule, call *hclsyntax.Block, mods map[string]*tfModule) *tfModule {
	t.Helper()
	src, ok := call.Body.Attributes["source"]
	if !ok {
		t.Errorf("module %q has no source", call.Labels[0])
		return nil
	}
	v, diags := src.Expr.Value(nil)
	if diags.HasErrors() || v.Type() != cty.String {
		t.Errorf("module %q: source must be a literal string", call.Labels[0])
		return nil
	}
	s := v.AsString()
	if !strings.HasPrefix(s, "./") && !strings.HasPrefix(s, "../") {
		t.Errorf("module %q: source %q is not a local path (nothing can be downloaded here)", call.Labels[0], s)
		return nil
	}
	child := mods[filepath.Clean(filepath.Join(m.dir, s))]
	if child == nil {
		t.Errorf("module %q: source %q is not a module of deploy/terraform", call.Labels[0], s)
	}
	return child
}

func checkCall(t *testing.T, m *tfModule, name string, call *hclsyntax.Block, mods map[string]*tfModule) {
	child := childModule(t, m, call, mods)
	if child == nil {
		return
	}
	for arg := range call.Body.Attributes {
		if metaArgs[arg] {
			continue
		}
		if _, ok := child.variables[arg]; !ok {
			t.Errorf("module %q passes %q, which %s does not declare", name, arg, relDir(t, child.dir))
		}
	}
	for vname, v := range child.variables {
		if _, passed := call.Body.Attributes[vname]; !passed && !v.hasDefault {
			t.Errorf("module %q does not pass %q, which %s requires (no default)", name, vname, relDir(t, child.dir))
		}
	}
	// Providers: what the call passes must exist here and be required there; what the child
	// requires and the call does not pass must have a default configuration here.
	passed := map[string]bool{}
	if a, ok := call.Body.Attributes["providers"]; ok {
		obj, ok := a.Expr.(*hclsyntax.ObjectConsExpr)
		if !ok {
			t.Errorf("module %q: providers must be a map", name)
			return
		}
		for _, item := range obj.Items {
			key := hcl.ExprAsKeyword(item.KeyExpr)
			passed[key] = true
			if !child.required[key] {
				t.Errorf("module %q: provider %q passed, but %s does not require it", name, key, relDir(t, child.dir))
			}
			tr, diags := hcl.AbsTraversalForExpr(item.ValueExpr)
			if diags.HasErrors() {
				t.Errorf("module %q: provider %q is not a provider reference", name, key)
				continue
			}
			ref := tr.RootName()
			if a := attrName(tr, 1); a != "" {
				ref += "." + a
			}
			if !m.providerConfigs[ref] {
				t.Errorf("module %q: provider configuration %s is not declared here", name, ref)
			}
		}
	}
	for prov := range child.required {
		if !passed[prov] && !m.providerConfigs[prov] && len(m.providerConfigs) > 0 {
			t.Errorf("module %q needs provider %q: pass one (providers = {...}) or configure a default", name, prov)
		}
	}
	// modules/region defaults to the chart's values-<region>.yaml: it must exist.
	if strings.HasSuffix(child.dir, filepath.Join("modules", "region")) {
		if a, ok := call.Body.Attributes["region"]; ok {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String {
				f := filepath.Join(chartDir(t), "values-"+v.AsString()+".yaml")
				if _, err := os.Stat(f); err != nil && call.Body.Attributes["values_files"] == nil {
					t.Errorf("module %q: region %s has no chart values file %s", name, v.AsString(), f)
				}
			}
		}
	}
}

// TestOverlayRegionsMatchTerraform: the example's database regions are exactly the ones the
// CockroachDB overlay adds, in the same order (primary first), as the module's precondition
// will insist at apply time.
func TestOverlayRegionsMatchTerraform(t *testing.T) {
	sql, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "cockroachdb", "multiregion.sql"))
	if err != nil {
		t.Fatal(err)
	}
	var fromFile []string
	for _, m := range regexp.MustCompile(`SET PRIMARY REGION "([a-z0-9-]+)"`).FindAllSubmatch(sql, -1) {
		fromFile = append(fromFile, string(m[1]))
	}
	for _, m := range regexp.MustCompile(`ADD REGION "([a-z0-9-]+)"`).FindAllSubmatch(sql, -1) {
		fromFile = append(fromFile, string(m[1]))
	}
	ex := loadModule(t, filepath.Join(terraformDir(t), "examples", "three-regions"))
	expr, ok := ex.locals["regions"]
	if !ok {
		t.Fatal("examples/three-regions has no local.regions")
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("local.regions is not a literal list: %s", diags.Error())
	}
	var fromTF []string
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		fromTF = append(fromTF, e.AsString())
	}
	if !slices.Equal(fromFile, fromTF) {
		t.Errorf("overlay regions %v, Terraform example regions %v", fromFile, fromTF)
	}
	if !slices.Equal(fromTF, regions) {
		t.Errorf("Terraform example regions %v, chart values files for %v", fromTF, regions)
	}
	// The module's default matches too.
	cr := loadModule(t, filepath.Join(terraformDir(t), "modules", "cockroachdb"))
	def, _ := cr.variables["overlay_regions"].block.Body.Attributes["default"].Expr.Value(nil)
	var fromDefault []string
	for it := def.ElementIterator(); it.Next(); {
		_, e := it.Element()
		fromDefault = append(fromDefault, e.AsString())
	}
	if !slices.Equal(fromDefault, fromFile) {
		t.Errorf("modules/cockroachdb overlay_regions default %v, overlay file %v", fromDefault, fromFile)
	}
}
