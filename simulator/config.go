package simulator

import (
	"sort"
	"sync"
	"time"
)

// DefaultUser is the simulated Looker user when none is chosen.
const DefaultUser = "admin"

// Config holds what a Looker admin sets in Admin > Actions: each action's param values,
// and per-user values for params bound to a user attribute (per_user or
// user_attribute_name).
type Config struct {
	mu       sync.Mutex
	params   map[string]map[string]string
	perUser  map[string]map[string]map[string]string // action → user → param → value
	users    map[string]bool
	modified map[string]time.Time
}

func (c *Config) init() {
	if c.params == nil {
		c.params = map[string]map[string]string{}
		c.perUser = map[string]map[string]map[string]string{}
		c.users = map[string]bool{DefaultUser: true}
		c.modified = map[string]time.Time{}
	}
}

// SetParam sets an admin param of an action ("" clears it).
func (c *Config) SetParam(action, name, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if c.params[action] == nil {
		c.params[action] = map[string]string{}
	}
	if value == "" {
		delete(c.params[action], name)
	} else {
		c.params[action][name] = value
	}
	c.modified[action] = time.Now()
}

// Param returns an admin param of an action.
func (c *Config) Param(action, name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.params[action][name]
}

// SetUserValue sets a user's value of a per-user param ("" clears it) and adds the user.
func (c *Config) SetUserValue(action, user, name, value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.users[user] = true
	if c.perUser[action] == nil {
		c.perUser[action] = map[string]map[string]string{}
	}
	if c.perUser[action][user] == nil {
		c.perUser[action][user] = map[string]string{}
	}
	if value == "" {
		delete(c.perUser[action][user], name)
	} else {
		c.perUser[action][user][name] = value
	}
	c.modified[action] = time.Now()
}

// UserValue returns a user's value of a per-user param.
func (c *Config) UserValue(action, user, name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	return c.perUser[action][user][name]
}

// AddUser adds a simulated user.
func (c *Config) AddUser(user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	c.users[user] = true
}

// Users lists the simulated users, sorted.
func (c *Config) Users() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	out := make([]string, 0, len(c.users))
	for u := range c.users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out
}

// Data returns the "data" Looker sends for the user: the action's admin params, with the
// user's own values for per-user params.
func (c *Config) Data(in *Integration, user string) map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	out := map[string]string{}
	for _, p := range in.Params {
		v := c.params[in.Name][p.Name]
		if p.IsPerUser() {
			if uv, ok := c.perUser[in.Name][user][p.Name]; ok {
				v = uv
			}
		}
		if v != "" {
			out[p.Name] = v
		}
	}
	return out
}

// MissingRequired returns the labels of required params without a value for the user.
func (c *Config) MissingRequired(in *Integration, user string) []string {
	data := c.Data(in, user)
	var out []string
	for _, p := range in.Params {
		if p.Required && data[p.Name] == "" {
			out = append(out, p.Label)
		}
	}
	return out
}
