// Package goloader checks Falco plugin .so files with Falco's own C plugin
// loader, as vendored by the official Go SDK
// (github.com/falcosecurity/plugin-sdk-go/pkg/loader, plugin_loader.c, API 3.11).
// The tests are in loader_test.go; run them with
//
//	cd tests/hosts/go_loader && FALCO_DENO_PLUGINS='[...]' go test -count=1 -v ./...
//
// This file holds the few raw C calls the Go API of pkg/loader does not
// expose: the full capability bit set of plugin_loader.c (the Go API only
// tells sourcing and extraction), the list of exported plugin_* symbols, and a
// direct plugin_init (bypassing the loader's own JSON-schema check) to see
// how the plugin itself reacts to a bad config.
package goloader

/*
#cgo linux LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// Provided by plugin_loader.c, compiled into package
// github.com/falcosecurity/plugin-sdk-go/pkg/loader (linked in because this
// package imports it). The handle is opaque here.
extern void* plugin_load(const char* path, char* err);
extern void plugin_unload(void* h);
extern uint32_t plugin_get_capabilities(const void* h, char* err);

// ss_plugin_init_input of plugin_api.h 3.x (config, owner,
// get_owner_last_error, tables, log_fn), all but config left NULL, which is
// what pkg/loader itself passes.
typedef struct {
	const char* config;
	void* owner;
	void* get_owner_last_error;
	void* tables;
	void* log_fn;
} raw_init_input;

typedef void* (*init_fn)(const raw_init_input*, int32_t*);
typedef void (*destroy_fn)(void*);
typedef const char* (*last_error_fn)(void*);

static uint32_t raw_caps(const char* path, char* err) {
	void* h = plugin_load(path, err);
	if (!h) return 0xffffffffu;
	uint32_t c = plugin_get_capabilities(h, err);
	plugin_unload(h);
	return c;
}

static int raw_has_symbol(const char* path, const char* sym) {
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) return -1;
	int r = dlsym(h, sym) != NULL;
	return r; // never dlclose: a Go c-shared library must not be unloaded
}

// Calls plugin_init directly. Returns rc; copies last error (if the handle
// is not NULL) into err; destroys the handle. *got_handle = handle != NULL.
static int32_t raw_init(const char* path, const char* config, char* err, size_t errlen, int* got_handle, int destroy_failed) {
	err[0] = 0;
	*got_handle = 0;
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) { strncpy(err, dlerror(), errlen - 1); return -100; }
	init_fn init = (init_fn)dlsym(h, "plugin_init");
	destroy_fn destroy = (destroy_fn)dlsym(h, "plugin_destroy");
	last_error_fn last = (last_error_fn)dlsym(h, "plugin_get_last_error");
	if (!init || !destroy || !last) { strcpy(err, "missing init/destroy/get_last_error"); return -101; }
	raw_init_input in;
	memset(&in, 0, sizeof in);
	in.config = config;
	int32_t rc = -102;
	void* s = init(&in, &rc);
	if (s) {
		*got_handle = 1;
		// only after a failure: the Go SDK's get_last_error panics (nil
		// error) when called on a state that has no error yet
		const char* e = rc != 0 ? last(s) : NULL;
		if (e) { strncpy(err, e, errlen - 1); err[errlen - 1] = 0; }
		// libsinsp destroys a failed state too; the Go SDK v0.8.3 panics
		// there ("async worker stopped without being started") when async
		// extraction is on, so that is opt-in
		if (rc == 0 || destroy_failed) destroy(s);
	}
	return rc; // no dlclose, as above
}
*/
import "C"

import (
	"unsafe"

	_ "github.com/falcosecurity/plugin-sdk-go/pkg/loader" // links plugin_loader.c
)

// Capability bits of plugin_loader.h.
const (
	CapSourcing         = 1 << 0
	CapExtraction       = 1 << 1
	CapParsing          = 1 << 2
	CapAsync            = 1 << 3
	CapCaptureListening = 1 << 4
	CapBroken           = 1 << 31
)

// CapNames maps spec capability names to bits.
var CapNames = map[string]uint32{
	"sourcing":         CapSourcing,
	"extraction":       CapExtraction,
	"parsing":          CapParsing,
	"async":            CapAsync,
	"captureListening": CapCaptureListening,
}

// AllSymbols is every plugin_* symbol of plugin API 3.12 (plugin_api.h).
var AllSymbols = []string{
	"plugin_get_required_api_version", "plugin_get_version", "plugin_get_name",
	"plugin_get_description", "plugin_get_contact", "plugin_get_init_schema",
	"plugin_init", "plugin_destroy", "plugin_get_last_error",
	"plugin_get_id", "plugin_get_event_source", "plugin_open", "plugin_close",
	"plugin_list_open_params", "plugin_get_progress", "plugin_event_to_string",
	"plugin_next_batch", "plugin_get_fields", "plugin_extract_fields",
	"plugin_get_extract_event_sources", "plugin_get_extract_event_types",
	"plugin_get_parse_event_types", "plugin_get_parse_event_sources", "plugin_parse_event",
	"plugin_get_async_event_sources", "plugin_get_async_events", "plugin_set_async_event_handler",
	"plugin_dump_state", "plugin_set_config", "plugin_get_metrics",
	"plugin_capture_open", "plugin_capture_close",
}

// RequiredSymbols are the symbols plugin_check_required_symbols demands.
var RequiredSymbols = []string{
	"plugin_get_required_api_version", "plugin_get_version", "plugin_get_name",
	"plugin_get_description", "plugin_get_contact", "plugin_init",
	"plugin_destroy", "plugin_get_last_error",
}

// RawCaps returns the capability bits plugin_loader.c computes, and the
// error text it wrote (set when CAP_BROKEN is).
func RawCaps(path string) (uint32, string) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	buf := (*C.char)(C.calloc(4096, 1))
	defer C.free(unsafe.Pointer(buf))
	c := C.raw_caps(cpath, buf)
	return uint32(c), C.GoString(buf)
}

// HasSymbol tells whether dlsym finds sym in the library (-1: dlopen failed).
func HasSymbol(path, sym string) int {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	csym := C.CString(sym)
	defer C.free(unsafe.Pointer(csym))
	return int(C.raw_has_symbol(cpath, csym))
}

// RawInit calls plugin_init directly with config, returns its rc, whether a
// handle came back, and the last error read from that handle. The handle is
// destroyed after success, and after a failure if destroyFailed.
func RawInit(path, config string, destroyFailed bool) (rc int32, gotHandle bool, lastErr string) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	ccfg := C.CString(config)
	defer C.free(unsafe.Pointer(ccfg))
	buf := (*C.char)(C.calloc(4096, 1))
	defer C.free(unsafe.Pointer(buf))
	var gh C.int
	df := C.int(0)
	if destroyFailed {
		df = 1
	}
	r := C.raw_init(cpath, ccfg, buf, 4096, &gh, df)
	return int32(r), gh != 0, C.GoString(buf)
}
