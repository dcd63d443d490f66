// Package mocks runs Pulumi programs offline. Its Recorder is a mock resource monitor that
// records every resource the program registers (type, name, parent, provider and inputs),
// answers the invokes the program makes, and returns plausible outputs, so that unit tests and
// the offline plan can assert on what a real `pulumi up` would ask the cloud for.
package mocks

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Project is the Pulumi project name programs run under.
const Project = "cantondex"

// Account and Region are what the mock answers for the caller identity and the default region.
const (
	Account = "123456789012"
	Region  = "us-east-1"
)

// Resource is one recorded registration.
type Resource struct {
	URN      string
	Type     string
	Name     string
	Parent   string // URN of the parent, "" for the stack's direct children
	Provider string // provider reference ("urn::id"), "" for the default provider
	Custom   bool   // a cloud resource rather than a component
	Remote   bool   // a remote (multi-language) component such as pulumi-eks's Cluster
	ID       string
	// IgnoreChanges and DependsOn are the resource options of those names (DependsOn as URNs).
	IgnoreChanges []string
	DependsOn     []string
	// Inputs are the resource's inputs as plain Go values (maps, slices, strings, float64,
	// bools). Secret values are the string "[secret]", unknown ones "[unknown]", resource
	// references their URN.
	Inputs map[string]any
	// Raw are the inputs as Pulumi recorded them, secrets and all.
	Raw resource.PropertyMap
}

// Input returns the input at a dotted path ("encryptionConfig.resources", "tags.Name") and
// whether it is present and non-null.
func (r Resource) Input(path string) (any, bool) {
	var cur any = r.Inputs
	for _, key := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[key]; !ok || cur == nil {
			return nil, false
		}
	}
	return cur, true
}

// String returns the input at path as a string ("" when absent or not a string).
func (r Resource) String(path string) string {
	v, _ := r.Input(path)
	s, _ := v.(string)
	return s
}

// Bool returns the input at path as a bool (false when absent).
func (r Resource) Bool(path string) bool {
	v, _ := r.Input(path)
	b, _ := v.(bool)
	return b
}

// Number returns the input at path as a float64 (0 when absent).
func (r Resource) Number(path string) float64 {
	v, _ := r.Input(path)
	f, _ := v.(float64)
	return f
}

// Strings returns the input at path as a list of strings.
func (r Resource) Strings(path string) []string {
	v, _ := r.Input(path)
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// OutputFunc adds outputs for one resource type on top of the echoed inputs. It receives the
// recorder so that it can mint URNs for resource references.
type OutputFunc func(rec *Recorder, args pulumi.MockResourceArgs, outputs resource.PropertyMap)

// CallFunc answers one invoke token.
type CallFunc func(args pulumi.MockCallArgs) (resource.PropertyMap, error)

// Recorder is a pulumi.MockResourceMonitor that records what it is asked to create. It is safe
// for concurrent use, as the Pulumi SDK registers resources from several goroutines.
type Recorder struct {
	Stack string

	mu        sync.Mutex
	resources []Resource
	calls     []string
	outputs   map[string]OutputFunc
	invokes   map[string]CallFunc
	// ctx is the running program's context (set by Run), used to register the children of
	// remote components that a real provider would create (see eks.go).
	ctx *pulumi.Context
	// adopted maps "type::name" of such children to the URN of the component that owns them.
	adopted map[string]string
	errs    []error
}

// Fail records a problem of the mock itself (not of the program); Run returns it.
func (r *Recorder) Fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

var _ pulumi.MockResourceMonitor = (*Recorder)(nil)

// NewRecorder returns a recorder for a stack with the default outputs and invoke answers.
func NewRecorder(stack string) *Recorder {
	r := &Recorder{Stack: stack, outputs: map[string]OutputFunc{}, invokes: map[string]CallFunc{}, adopted: map[string]string{}}
	registerDefaults(r)
	registerData(r)
	registerEKS(r)
	return r
}

// HandleOutputs registers extra outputs for a resource type token.
func (r *Recorder) HandleOutputs(typ string, f OutputFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outputs[typ] = f
}

// HandleCall registers the answer to an invoke token.
func (r *Recorder) HandleCall(token string, f CallFunc) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.invokes[token] = f
}

// NewResource records the registration and returns an id and outputs: the inputs echoed back,
// plus an id, an ARN and whatever the type's OutputFunc adds.
func (r *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	id := args.ID
	if id == "" {
		id = args.Name + "-id"
	}
	parent, remote := "", false
	var ignore, deps []string
	if rpc := args.RegisterRPC; rpc != nil {
		parent, remote = rpc.GetParent(), rpc.GetRemote()
		ignore, deps = rpc.GetIgnoreChanges(), rpc.GetDependencies()
	}
	if rpc := args.ReadRPC; rpc != nil {
		parent = rpc.GetParent()
	}
	if resource.URN(parent).IsValid() && resource.URN(parent).QualifiedType() == resource.RootStackType {
		parent = ""
	}
	urn := r.URN(parent, args.TypeToken, args.Name)
	rec := Resource{
		URN: urn, Type: args.TypeToken, Name: args.Name, Parent: parent, Provider: args.Provider,
		Custom: args.Custom, Remote: remote, ID: id, IgnoreChanges: ignore, DependsOn: deps,
		Inputs: Plain(args.Inputs), Raw: args.Inputs,
	}

	outputs := args.Inputs.Copy()
	outputs["id"] = resource.NewProperty(id)
	if _, ok := outputs["arn"]; !ok {
		outputs["arn"] = resource.NewProperty(ARN(args.TypeToken, args.Name))
	}
	if _, ok := outputs["name"]; !ok {
		outputs["name"] = resource.NewProperty(args.Name)
	}

	r.mu.Lock()
	if owner, ok := r.adopted[args.TypeToken+"::"+args.Name]; ok {
		rec.Parent = owner
	}
	f := r.outputs[args.TypeToken]
	r.resources = append(r.resources, rec)
	r.mu.Unlock()
	if f != nil {
		f(r, args, outputs)
	}
	return id, outputs, nil
}

// Call answers an invoke. Unknown tokens are an error, so that a program cannot silently run on
// empty invoke results.
func (r *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	r.mu.Lock()
	f := r.invokes[args.Token]
	r.calls = append(r.calls, args.Token)
	r.mu.Unlock()
	if f == nil {
		return nil, fmt.Errorf("mocks: no answer for invoke %s", args.Token)
	}
	return f(args)
}

// URN builds the URN the mock monitor gives a resource, the same way the SDK does.
func (r *Recorder) URN(parent, typ, name string) string {
	parentType := ""
	if p := resource.URN(parent); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = string(p.QualifiedType())
	}
	if parentType != "" {
		return fmt.Sprintf("urn:pulumi:%s::%s::%s$%s::%s", r.Stack, Project, parentType, typ, name)
	}
	return fmt.Sprintf("urn:pulumi:%s::%s::%s::%s", r.Stack, Project, typ, name)
}

// Resources returns what was recorded, in a stable order (by URN).
func (r *Recorder) Resources() []Resource {
	r.mu.Lock()
	out := append([]Resource(nil), r.resources...)
	r.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].URN < out[j].URN })
	return out
}

// Calls returns the invoke tokens the program made, in order.
func (r *Recorder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

// OfType returns the recorded resources of one type token.
func (r *Recorder) OfType(typ string) []Resource {
	var out []Resource
	for _, res := range r.Resources() {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

// Named returns the resource of a type with a name, and whether there is one.
func (r *Recorder) Named(typ, name string) (Resource, bool) {
	for _, res := range r.OfType(typ) {
		if res.Name == name {
			return res, true
		}
	}
	return Resource{}, false
}

// ARN makes a plausible ARN for a mock resource.
func ARN(typ, name string) string {
	service := "mock"
	if parts := strings.Split(typ, ":"); len(parts) == 3 && parts[0] == "aws" {
		service, _, _ = strings.Cut(parts[1], "/")
	}
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, Region, Account, name)
}

// Plain converts a property map to plain Go values, masking secrets and unknowns.
func Plain(m resource.PropertyMap) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[string(k)] = plainValue(v)
	}
	return out
}

func plainValue(v resource.PropertyValue) any {
	switch {
	case v.IsSecret():
		return "[secret]"
	case v.IsComputed():
		return "[unknown]"
	case v.IsOutput():
		o := v.OutputValue()
		if o.Secret {
			return "[secret]"
		}
		if !o.Known {
			return "[unknown]"
		}
		return plainValue(o.Element)
	case v.IsResourceReference():
		return string(v.ResourceReferenceValue().URN)
	case v.IsObject():
		return Plain(v.ObjectValue())
	case v.IsArray():
		arr := v.ArrayValue()
		out := make([]any, len(arr))
		for i, e := range arr {
			out[i] = plainValue(e)
		}
		return out
	case v.IsNull():
		return nil
	default:
		return v.V
	}
}

// Tag returns the value of a tag (tags.<key>), for keys with dots such as "kubernetes.io/role/elb".
func (r Resource) Tag(key string) string {
	tags, _ := r.Inputs["tags"].(map[string]any)
	s, _ := tags[key].(string)
	return s
}
