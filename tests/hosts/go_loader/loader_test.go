// Tests Falco plugin .so files with Falco's own C plugin loader
// (github.com/falcosecurity/plugin-sdk-go/pkg/loader v0.8.3, API 3.11).
//
// Invocation (from the repo root):
//
//	(cd tests/hosts/go_loader && FALCO_DENO_PLUGINS='[{...}]' go test -count=1 -v ./...)
//
// FALCO_DENO_PLUGINS is a JSON list of plugin specs, or "@/abs/file.json"
// naming a file that holds it. A spec:
//
//	{ "path": "/abs/libfoo.so",            // required
//	  "name": "dummy",                     // expected plugin_get_name
//	  "capabilities": ["sourcing","extraction"], // EXACT set (also parsing, async, captureListening)
//	  "id": 3, "eventSource": "dummy",     // expected (sourcing plugins)
//	  "extractEventSources": ["dummy"],    // optional, expected get_extract_event_sources
//	  "fields": ["dummy.value", ...],      // optional, expected field names (in order)
//	  "requiredApiVersion": "3.0.0",       // optional, expected exactly
//	  "validConfig": "{\"jitter\":10}",    // init must succeed (after the loader's schema check)
//	  "invalidConfigs": ["{", "{\"jitter\":\"x\"}"], // the loader's Init must fail, with an error text
//	  "selfValidates": true }              // optional: plugin_init called DIRECTLY (no loader
//	                                       // schema check) must also fail for each invalid config,
//	                                       // returning a handle whose get_last_error is non-empty,
//	                                       // and plugin_destroy of that failed handle must not crash
//
// Without FALCO_DENO_PLUGINS the suite checks the official Go plugins built by
// tests/hosts/build_go_plugins.sh in $FALCO_DENO_CACHE/go-plugins (skipped if
// absent). Output: standard `go test -v` lines; one top-level test per
// check kind, one subtest per plugin ("--- PASS: TestX/name").
package goloader

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/falcosecurity/plugin-sdk-go/pkg/loader"
)

type spec struct {
	Path                string   `json:"path"`
	Name                string   `json:"name"`
	Capabilities        []string `json:"capabilities"`
	ID                  *uint32  `json:"id"`
	EventSource         *string  `json:"eventSource"`
	ExtractEventSources []string `json:"extractEventSources"`
	Fields              []string `json:"fields"`
	RequiredAPIVersion  string   `json:"requiredApiVersion"`
	ValidConfig         *string  `json:"validConfig"`
	InvalidConfigs      []string `json:"invalidConfigs"`
	SelfValidates       bool     `json:"selfValidates"`
}

func u32(v uint32) *uint32  { return &v }
func str(v string) *string { return &v }

func defaultSpecs() []spec {
	cache := os.Getenv("FALCO_DENO_CACHE")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache", "falco-deno")
	}
	dir := filepath.Join(cache, "go-plugins")
	var out []spec
	add := func(s spec) {
		if _, err := os.Stat(s.Path); err == nil {
			out = append(out, s)
		}
	}
	add(spec{
		Path: filepath.Join(dir, "libdummy.so"), Name: "dummy",
		Capabilities: []string{"sourcing", "extraction"}, ID: u32(3), EventSource: str("dummy"),
		Fields:             []string{"dummy.divisible", "dummy.value", "dummy.strvalue"},
		RequiredAPIVersion: "3.11.0", ValidConfig: str(`{"jitter":10}`),
		InvalidConfigs: []string{"{", `{"jitter":"x"}`, `[1,2]`},
	})
	add(spec{
		Path: filepath.Join(dir, "libjson.so"), Name: "json",
		Capabilities: []string{"extraction"}, ValidConfig: str(""),
		Fields: []string{"json.value", "json.obj", "json.rawtime", "jevt.value", "jevt.obj", "jevt.rawtime"},
	})
	add(spec{
		Path: filepath.Join(dir, "libk8saudit.so"), Name: "k8saudit",
		Capabilities: []string{"sourcing", "extraction"}, ID: u32(1), EventSource: str("k8s_audit"),
		ValidConfig: str("{}"), InvalidConfigs: []string{"{", `{"maxEventSize":"big"}`},
	})
	return out
}

func loadSpecs(t *testing.T) []spec {
	t.Helper()
	raw := os.Getenv("FALCO_DENO_PLUGINS")
	if raw == "" {
		s := defaultSpecs()
		if len(s) == 0 {
			t.Skip("FALCO_DENO_PLUGINS not set and no official Go plugins in $FALCO_DENO_CACHE/go-plugins (run tests/hosts/build_go_plugins.sh)")
		}
		return s
	}
	if strings.HasPrefix(raw, "@") {
		b, err := os.ReadFile(raw[1:])
		if err != nil {
			t.Fatalf("FALCO_DENO_PLUGINS: %v", err)
		}
		raw = string(b)
	}
	var specs []spec
	if err := json.Unmarshal([]byte(raw), &specs); err != nil {
		t.Fatalf("FALCO_DENO_PLUGINS is not a JSON list of specs: %v", err)
	}
	if len(specs) == 0 {
		t.Fatal("FALCO_DENO_PLUGINS lists no plugin: nothing would be tested")
	}
	for i, s := range specs {
		if s.Path == "" {
			t.Fatalf("spec %d has no path", i)
		}
	}
	return specs
}

func label(s spec) string {
	if s.Name != "" {
		return s.Name
	}
	return filepath.Base(s.Path)
}

// forEach runs f as one subtest per plugin, with the plugin loaded (not
// validated, not initialised) by the official loader, unloaded afterwards.
func forEach(t *testing.T, f func(t *testing.T, s spec, p *loader.Plugin)) {
	for _, s := range loadSpecs(t) {
		s := s
		t.Run(label(s), func(t *testing.T) {
			p, err := loader.NewPlugin(s.Path)
			if err != nil {
				t.Fatalf("loader.NewPlugin(%s): %v", s.Path, err)
			}
			defer p.Unload()
			f(t, s, p)
		})
	}
}

var semver = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)$`)

// TestLoad: the library loads and passes the loader's validation (API
// version check against the loader's 3.11, required symbols, >= 1 capability,
// no broken capability).
func TestLoad(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		if err := p.Validate(); err != nil {
			t.Fatalf("Validate: %v", err)
		}
		if p.HasCapBroken() {
			t.Fatalf("broken capability: %v", p.CapBrokenError())
		}
		v, err := loader.NewValidPlugin(s.Path) // a second load of the same library
		if err != nil {
			t.Fatalf("NewValidPlugin: %v", err)
		}
		v.Unload()
	})
}

func TestRequiredAPIVersion(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		v := p.Info().RequiredAPIVersion
		m := semver.FindStringSubmatch(v)
		if m == nil {
			t.Fatalf("required API version %q is not MAJOR.MINOR.PATCH", v)
		}
		if m[1] != "3" {
			t.Fatalf("required API version %q: major must be 3", v)
		}
		if s.RequiredAPIVersion != "" && v != s.RequiredAPIVersion {
			t.Fatalf("required API version %q, spec says %q", v, s.RequiredAPIVersion)
		}
		t.Logf("requires plugin API %s", v)
	})
}

func TestRequiredSymbols(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		var missing, present []string
		for _, sym := range RequiredSymbols {
			switch HasSymbol(s.Path, sym) {
			case -1:
				t.Fatalf("dlopen(%s) failed", s.Path)
			case 0:
				missing = append(missing, sym)
			}
		}
		for _, sym := range AllSymbols {
			if HasSymbol(s.Path, sym) == 1 {
				present = append(present, strings.TrimPrefix(sym, "plugin_"))
			}
		}
		t.Logf("exports: %s", strings.Join(present, " "))
		if len(missing) > 0 {
			t.Fatalf("missing required symbols: %v", missing)
		}
	})
}

// TestCapabilitiesExact: plugin_get_capabilities of plugin_loader.c gives
// exactly the declared set (an extract-only plugin must not report
// sourcing, no parse/async/listen bits unless declared).
func TestCapabilitiesExact(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		if s.Capabilities == nil {
			t.Fatalf("spec has no \"capabilities\"")
		}
		var want uint32
		for _, c := range s.Capabilities {
			b, ok := CapNames[c]
			if !ok {
				t.Fatalf("unknown capability %q in spec", c)
			}
			want |= b
		}
		got, errText := RawCaps(s.Path)
		if got == 0xffffffff {
			t.Fatalf("plugin_load failed: %s", errText)
		}
		if got&CapBroken != 0 {
			t.Fatalf("CAP_BROKEN set: %s", errText)
		}
		if got != want {
			t.Fatalf("capabilities %s, declared %s", capString(got), capString(want))
		}
		// and the Go API agrees
		if p.HasCapSourcing() != (want&CapSourcing != 0) || p.HasCapExtraction() != (want&CapExtraction != 0) {
			t.Fatalf("loader Go API: sourcing=%v extraction=%v, declared %s", p.HasCapSourcing(), p.HasCapExtraction(), capString(want))
		}
		t.Logf("capabilities: %s", capString(got))
	})
}

func capString(c uint32) string {
	var n []string
	for name, b := range CapNames {
		if c&b != 0 {
			n = append(n, name)
		}
	}
	sort.Strings(n)
	if c&CapBroken != 0 {
		n = append(n, "BROKEN")
	}
	return "[" + strings.Join(n, ",") + "]"
}

var fieldTypes = map[string]bool{
	"uint64": true, "string": true, "bool": true, "reltime": true,
	"abstime": true, "ipaddr": true, "ipnet": true,
}

// TestInfo: name/version/description/contact/id/source/fields as the
// loader reads them before any init (as `falco --list-plugins` does).
func TestInfo(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		in := p.Info()
		if in.Name == "" || (s.Name != "" && in.Name != s.Name) {
			t.Errorf("name %q, want %q", in.Name, s.Name)
		}
		if !semver.MatchString(in.Version) {
			t.Errorf("version %q is not MAJOR.MINOR.PATCH", in.Version)
		}
		if in.Description == "" || in.Contact == "" {
			t.Errorf("empty description (%q) or contact (%q)", in.Description, in.Contact)
		}
		if s.ID != nil && in.ID != *s.ID {
			t.Errorf("id %d, want %d", in.ID, *s.ID)
		}
		if s.EventSource != nil && in.EventSource != *s.EventSource {
			t.Errorf("event source %q, want %q", in.EventSource, *s.EventSource)
		}
		if p.HasCapSourcing() && in.ID == 0 && in.EventSource == "" {
			t.Logf("note: id 0 and source \"\": a SYSCALL-source plugin for Falco")
		}
		if s.ExtractEventSources != nil && !reflect.DeepEqual(in.ExtractEventSources, s.ExtractEventSources) {
			t.Errorf("extract event sources %v, want %v", in.ExtractEventSources, s.ExtractEventSources)
		}
		if p.HasCapExtraction() {
			fs := p.Fields()
			if len(fs) == 0 {
				t.Errorf("extraction capability with no fields (Falco rejects get_fields = [])")
			}
			seen := map[string]bool{}
			var names []string
			for _, f := range fs {
				if f.Name == "" || seen[f.Name] {
					t.Errorf("empty or duplicate field name %q", f.Name)
				}
				seen[f.Name] = true
				names = append(names, f.Name)
				if !fieldTypes[f.Type] {
					t.Errorf("field %s: unknown type %q", f.Name, f.Type)
				}
				if f.Desc == "" {
					t.Errorf("field %s: empty description", f.Name)
				}
			}
			if s.Fields != nil && !reflect.DeepEqual(names, s.Fields) {
				t.Errorf("fields %v, want %v", names, s.Fields)
			}
		}
		if sc := p.InitSchema(); sc != nil {
			var v interface{}
			if err := json.Unmarshal([]byte(sc.Schema), &v); err != nil {
				t.Errorf("init schema is not JSON: %v", err)
			}
		}
		t.Logf("%s %s id=%d source=%q schema=%v fields=%d", in.Name, in.Version, in.ID, in.EventSource, p.InitSchema() != nil, len(p.Fields()))
	})
}

// TestInitValid: Init with the valid config (loader schema check, then
// plugin_init), open params listed for a source plugin, Unload (destroy).
func TestInitValid(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		if s.ValidConfig == nil {
			t.Skip("no validConfig in spec")
		}
		if err := p.Init(*s.ValidConfig); err != nil {
			t.Fatalf("Init(%q): %v", *s.ValidConfig, err)
		}
		if err := p.Init(*s.ValidConfig); err == nil {
			t.Errorf("second Init on the same loader.Plugin should fail")
		}
		if p.HasCapSourcing() {
			ps, err := p.OpenParams()
			if err != nil {
				t.Errorf("OpenParams: %v", err)
			}
			t.Logf("open params: %d suggested", len(ps))
		}
	})
}

// TestInitSeveralInstances: several states of one library at once (Falco
// inits a plugin once per compatible inspector), initialised concurrently.
func TestInitSeveralInstances(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		if s.ValidConfig == nil {
			t.Skip("no validConfig in spec")
		}
		const n = 4
		ps := make([]*loader.Plugin, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			q, err := loader.NewValidPlugin(s.Path)
			if err != nil {
				t.Fatalf("NewValidPlugin: %v", err)
			}
			ps[i] = q
		}
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) { defer wg.Done(); errs[i] = ps[i].Init(*s.ValidConfig) }(i)
		}
		wg.Wait()
		for i := 0; i < n; i++ {
			if errs[i] != nil {
				t.Errorf("instance %d: Init: %v", i, errs[i])
			}
		}
		for i := n - 1; i >= 0; i-- {
			ps[i].Unload()
		}
	})
}

// TestInitInvalid: each invalid config makes the loader's Init fail with a
// readable error (its JSON-schema validation, or plugin_init's own error),
// and the plugin stays usable for a valid init afterwards.
func TestInitInvalid(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		if len(s.InvalidConfigs) == 0 {
			t.Skip("no invalidConfigs in spec")
		}
		for _, cfg := range s.InvalidConfigs {
			q, err := loader.NewValidPlugin(s.Path)
			if err != nil {
				t.Fatalf("NewValidPlugin: %v", err)
			}
			err = q.Init(cfg)
			if err == nil {
				t.Errorf("Init(%q) succeeded, want an error", cfg)
				q.Unload()
				continue
			} else if strings.TrimSpace(err.Error()) == "" || strings.Contains(err.Error(), "unknown initialization error") {
				t.Errorf("Init(%q): unclear error %q", cfg, err)
			} else {
				t.Logf("Init(%q) -> %v", cfg, err)
			}
			if s.ValidConfig != nil {
				if err := q.Init(*s.ValidConfig); err != nil {
					t.Errorf("after a rejected config, Init(valid): %v", err)
				}
			}
			q.Unload()
		}
	})
}

// TestInitSchemaValidation: what the loader checks against the schema is
// also checked by the plugin itself when its plugin_init is called
// directly (only for specs with "selfValidates": true). Otherwise it only
// reports what the plugin does.
func TestInitSchemaValidation(t *testing.T) {
	forEach(t, func(t *testing.T, s spec, p *loader.Plugin) {
		if len(s.InvalidConfigs) == 0 {
			t.Skip("no invalidConfigs in spec")
		}
		if s.ValidConfig != nil {
			rc, h, e := RawInit(s.Path, *s.ValidConfig, true)
			if rc != 0 || !h {
				t.Fatalf("direct plugin_init(%q): rc=%d handle=%v err=%q", *s.ValidConfig, rc, h, e)
			}
		}
		for _, cfg := range s.InvalidConfigs {
			rc, h, e := RawInit(s.Path, cfg, s.SelfValidates)
			if !s.SelfValidates {
				t.Logf("direct plugin_init(%q): rc=%d handle=%v last_error=%q (not required to fail: no selfValidates)", cfg, rc, h, e)
				continue
			}
			switch {
			case rc == 0:
				t.Errorf("direct plugin_init(%q) succeeded, want FAILURE", cfg)
			case !h:
				t.Errorf("direct plugin_init(%q): rc=%d but no handle to read the error from", cfg, rc)
			case strings.TrimSpace(e) == "":
				t.Errorf("direct plugin_init(%q): rc=%d, empty get_last_error", cfg, rc)
			default:
				t.Logf("direct plugin_init(%q) -> rc=%d %q", cfg, rc, e)
			}
		}
	})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "go_loader: FAILED")
	}
	os.Exit(code)
}
