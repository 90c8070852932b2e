package sdk

import (
	"fmt"
	"sort"
	"sync"
)

// Module is a registered action: its name and a constructor that gets the hub's Env.
// New returns an error wrapping ErrNotConfigured (see Env.Require) when the action's
// gating variables are missing; the hub then leaves it out with a warning, as Node does.
type Module struct {
	Name string
	New  func(env *Env) (Action, error)
}

var (
	regMu   sync.Mutex
	modules = map[string]Module{}
)

// Register adds a module. Call it from an action package's init; a duplicate name panics
// at start-up, as http.Handle does for duplicate patterns.
func Register(m Module) {
	regMu.Lock()
	defer regMu.Unlock()
	if m.Name == "" || m.New == nil {
		panic("sdk.Register: module needs a Name and New")
	}
	if _, dup := modules[m.Name]; dup {
		panic(fmt.Sprintf("sdk.Register: action %q registered twice", m.Name))
	}
	modules[m.Name] = m
}

// Modules returns the registered modules sorted by name.
func Modules() []Module {
	regMu.Lock()
	defer regMu.Unlock()
	out := make([]Module, 0, len(modules))
	for _, m := range modules {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Static returns a Module for an action that needs no configuration.
func Static(a Action) Module {
	return Module{Name: a.Definition().Name, New: func(*Env) (Action, error) { return a, nil }}
}
