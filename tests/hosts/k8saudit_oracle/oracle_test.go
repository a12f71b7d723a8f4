// Package oracle runs the official Go k8saudit plugin's own code (v0.18.0)
// over the fixtures in tests/fixtures/k8saudit and writes what it gives:
// the field list, and per fixture the events (payload, time) and every
// (event, field, argument) result. The TypeScript plugin must give the same.
//
//	K8SAUDIT_ORACLE_OUT=/tmp/oracle.json go test ./...
package oracle

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unsafe"

	"github.com/falcosecurity/plugin-sdk-go/pkg/sdk"
	"github.com/falcosecurity/plugins/plugins/k8saudit/pkg/k8saudit"
)

// request is one field request, as libsinsp hands it to the plugin.
type request struct {
	id       uint64
	field    string
	isList   bool
	argKey   string
	argIndex uint64
	argSet   bool
	values   []string
	set      bool
}

func (r *request) FieldID() uint64                                  { return r.id }
func (r *request) FieldType() uint32                                { return sdk.FieldTypeCharBuf }
func (r *request) Field() string                                    { return r.field }
func (r *request) ArgKey() string                                   { return r.argKey }
func (r *request) ArgIndex() uint64                                 { return r.argIndex }
func (r *request) ArgPresent() bool                                 { return r.argSet }
func (r *request) IsList() bool                                     { return r.isList }
func (r *request) WantOffset() bool                                 { return false }
func (r *request) SetValueOffset(start, length uint32)              {}
func (r *request) SetPtr(unsafe.Pointer)                            {}
func (r *request) SetOffsetPtrs(startPtr, lengthPtr unsafe.Pointer) {}
func (r *request) SetValue(v interface{}) {
	r.set = true
	switch x := v.(type) {
	case string:
		r.values = []string{x}
	case []string:
		r.values = x
	default:
		panic("unexpected value type")
	}
}

type event struct {
	num  uint64
	data []byte
}

func (e *event) EventNum() uint64      { return e.num }
func (e *event) Timestamp() uint64     { return 0 }
func (e *event) Reader() io.ReadSeeker { return bytes.NewReader(e.data) }

// Variants returns the argument forms dumped for a field.
func variants(f sdk.FieldEntry) []string {
	switch {
	case f.Arg.IsKey:
		switch f.Name {
		case "ka.uri.param":
			return []string{"command", "container", "stdin", "watch", "a b", "x", "plus", "emptyval", "q"}
		case "ka.req.volume.hostpath":
			return []string{"/var/run/docker.sock", "/proc*", "/", "*", "/etc", "/etc*", "/home/user/*"}
		default:
			return []string{"sample"}
		}
	case f.Arg.IsIndex:
		return []string{"", "0", "1", "2", "99"}
	}
	return []string{""}
}

func name(f sdk.FieldEntry, arg string) string {
	if arg == "" && !f.Arg.IsRequired {
		return f.Name
	}
	return f.Name + "[" + arg + "]"
}

// hostString is what libsinsp reads: a C string, cut at the first NUL.
func hostString(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}

// lines splits like bufio.ScanLines but without its 64 KiB limit (the
// TypeScript plugin reads lines of any length; plugins#639).
func lines(data []byte) [][]byte {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<30)
	var out [][]byte
	for sc.Scan() {
		if len(sc.Bytes()) > 0 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
	}
	return out
}

type dumpEvent struct {
	Payload string               `json:"payload"`
	Ts      string               `json:"ts"`
	Fields  map[string]*[]string `json:"fields"`
}

type dump struct {
	Fields   []sdk.FieldEntry       `json:"fields"`
	Variants []string               `json:"variants"`
	Fixtures map[string][]dumpEvent `json:"fixtures"`
}

func TestOracle(t *testing.T) {
	out := os.Getenv("K8SAUDIT_ORACLE_OUT")
	dir := os.Getenv("K8SAUDIT_FIXTURES")
	if dir == "" {
		dir = "../../fixtures/k8saudit"
	}
	p := &k8saudit.Plugin{}
	if err := p.Init("{}"); err != nil {
		t.Fatal(err)
	}
	fields := p.Fields()
	d := dump{Fields: fields, Fixtures: map[string][]dumpEvent{}}
	for _, f := range fields {
		for _, a := range variants(f) {
			d.Variants = append(d.Variants, name(f, a))
		}
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures in %s", dir)
	}
	sort.Strings(files)
	num := uint64(0)
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		events := []dumpEvent{}
		for _, line := range lines(data) {
			// As the plugin's parseAuditEventsAndPush: an error drops the
			// whole line, a bad event only itself.
			parsed, err := p.ParseAuditEventsPayload(line)
			if err != nil {
				continue
			}
			for _, pe := range parsed {
				if pe.Err != nil {
					continue
				}
				num++
				ev := &event{num: num, data: pe.Data}
				de := dumpEvent{
					Payload: string(pe.Data),
					Ts:      json.Number(strconvU(uint64(pe.Timestamp.UnixNano()))).String(),
					Fields:  map[string]*[]string{},
				}
				for i, f := range fields {
					for _, a := range variants(f) {
						r := &request{id: uint64(i), field: f.Name, isList: f.IsList}
						if a != "" || f.Arg.IsRequired {
							r.argSet = true
							r.argKey = a
							if f.Arg.IsIndex {
								var n uint64
								json.Unmarshal([]byte(a), &n)
								r.argIndex = n
							}
						}
						err := p.Extract(r, ev)
						if err != nil || !r.set || len(r.values) == 0 {
							de.Fields[name(f, a)] = nil
							continue
						}
						vs := make([]string, len(r.values))
						for j, v := range r.values {
							vs[j] = hostString(v)
						}
						de.Fields[name(f, a)] = &vs
					}
				}
				events = append(events, de)
			}
		}
		d.Fixtures[filepath.Base(file)] = events
	}
	if out != "" {
		b, err := json.MarshalIndent(d, "", " ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func strconvU(n uint64) string {
	b, _ := json.Marshal(n)
	return string(b)
}
