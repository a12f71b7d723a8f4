/*
 * native_dummy.c: the cheapest possible Falco plugin with the official
 * dummy plugin's fields and semantics (the benchmark ceiling).
 *
 * Build (bench.ts does it): gcc -O2 -shared -fPIC -o libnative_dummy.so tests/bench/native_dummy.c
 *
 * Same as github.com/falcosecurity/plugins/plugins/dummy v0.11.5: init
 * config {"jitter":J} (default 10), open params {"start":S,"maxEvents":N}
 * (defaults 1, 20); each event's payload is the decimal text of
 * sample += 1 + rand[0..J]; fields dummy.divisible[n] (uint64, 1 if value%n==0),
 * dummy.value (uint64), dummy.strvalue (string). Event source "dummy",
 * plugin id 3 like the Go one (so the same events are valid for both).
 * Self-contained: no Falco headers needed (ABI structs declared below,
 * plugin API 3.x layout).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_abi.h"

#define BATCH 512
#define MAXPAYLOAD 24
#define EVT_SIZE (26 + 8 + 4 + MAXPAYLOAD)

typedef struct {
	uint64_t jitter;
	uint64_t rng;
	char lasterr[1024];
	uint64_t u64[4];
	char str[32];
	const char* strp;
} state_t;

typedef struct {
	uint64_t sample, count, max;
	uint8_t buf[BATCH][EVT_SIZE];
	ss_plugin_event* ptrs[BATCH];
} inst_t;

static uint64_t json_u64(const char* s, const char* key, uint64_t def, int* bad) {
	if (!s) return def;
	const char* p = strstr(s, key);
	if (!p) return def;
	p += strlen(key);
	while (*p == ' ' || *p == '"' || *p == ':') p++;
	if (*p < '0' || *p > '9') { *bad = 1; return def; }
	return strtoull(p, NULL, 10);
}

const char* plugin_get_required_api_version(void) { return "3.0.0"; }
const char* plugin_get_version(void) { return "0.11.5"; }
const char* plugin_get_name(void) { return "native_dummy"; }
const char* plugin_get_description(void) { return "C dummy plugin: benchmark ceiling"; }
const char* plugin_get_contact(void) { return "falco-deno tests/bench"; }
uint32_t plugin_get_id(void) { return 3; }
const char* plugin_get_event_source(void) { return "dummy"; }
const char* plugin_get_fields(void) {
	return "[{\"type\":\"uint64\",\"name\":\"dummy.divisible\",\"desc\":\"1 if the value is divisible by the argument\","
	       "\"arg\":{\"isRequired\":true,\"isIndex\":true}},"
	       "{\"type\":\"uint64\",\"name\":\"dummy.value\",\"desc\":\"The sample value in the event\"},"
	       "{\"type\":\"string\",\"name\":\"dummy.strvalue\",\"desc\":\"The sample value in the event, as a string\"}]";
}

void* plugin_init(const ss_plugin_init_input* in, ss_plugin_rc* rc) {
	state_t* s = calloc(1, sizeof *s);
	int bad = 0;
	s->jitter = json_u64(in ? in->config : NULL, "\"jitter\"", 10, &bad);
	s->rng = 0x9E3779B97F4A7C15ull;
	if (bad) {
		snprintf(s->lasterr, sizeof s->lasterr, "invalid config: jitter must be an unsigned integer");
		*rc = SS_FAILURE;
	} else {
		*rc = SS_SUCCESS;
	}
	return s;
}
void plugin_destroy(void* s) { free(s); }
const char* plugin_get_last_error(void* s) { return ((state_t*)s)->lasterr; }

void* plugin_open(void* sp, const char* params, ss_plugin_rc* rc) {
	int bad = 0;
	inst_t* h = calloc(1, sizeof *h);
	h->sample = json_u64(params, "\"start\"", 1, &bad);
	h->max = json_u64(params, "\"maxEvents\"", 20, &bad);
	(void)sp;
	*rc = SS_SUCCESS;
	return h;
}
void plugin_close(void* s, void* h) { (void)s; free(h); }

const char* plugin_get_progress(void* s, void* h, uint32_t* pct) {
	inst_t* i = h;
	(void)s;
	*pct = i->max ? (uint32_t)(i->count * 10000 / i->max) : 0;
	return "";
}

static inline uint64_t next_rand(state_t* s) {
	uint64_t x = s->rng;
	x ^= x << 13; x ^= x >> 7; x ^= x << 17;
	return s->rng = x;
}

ss_plugin_rc plugin_next_batch(void* sp, void* hp, uint32_t* nevts, ss_plugin_event*** evts) {
	state_t* s = sp;
	inst_t* h = hp;
	uint32_t n = 0;
	while (n < BATCH && h->count < h->max) {
		h->count++;
		h->sample += 1 + (s->jitter ? next_rand(s) % (s->jitter + 1) : 0);
		char txt[MAXPAYLOAD];
		int len = snprintf(txt, sizeof txt, "%llu", (unsigned long long)h->sample);
		uint8_t* b = h->buf[n];
		ss_plugin_event* e = (ss_plugin_event*)b;
		e->ts = UINT64_MAX;
		e->tid = UINT64_MAX;
		e->len = 26 + 8 + 4 + len;
		e->type = 322;
		e->nparams = 2;
		uint32_t l0 = 4, l1 = (uint32_t)len, id = 3;
		memcpy(b + 26, &l0, 4);
		memcpy(b + 30, &l1, 4);
		memcpy(b + 34, &id, 4);
		memcpy(b + 38, txt, len);
		h->ptrs[n++] = e;
	}
	*nevts = n;
	*evts = h->ptrs;
	return n == 0 ? SS_EOF : SS_SUCCESS;
}

ss_plugin_rc plugin_extract_fields(void* sp, const ss_plugin_event_input* ei, const ss_plugin_field_extract_input* in) {
	state_t* s = sp;
	const uint8_t* b = (const uint8_t*)ei->evt;
	uint32_t plen;
	memcpy(&plen, b + 30, 4);
	const char* p = (const char*)b + 38;
	uint64_t v = 0;
	for (uint32_t i = 0; i < plen; i++) {
		if (p[i] < '0' || p[i] > '9') {
			snprintf(s->lasterr, sizeof s->lasterr, "payload is not a decimal number");
			return SS_FAILURE;
		}
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	for (uint32_t i = 0; i < in->num_fields; i++) {
		ss_plugin_extract_field* f = &in->fields[i];
		switch (f->field_id) {
		case 0:
			if (!f->arg_present || f->arg_index == 0) {
				snprintf(s->lasterr, sizeof s->lasterr, "'dummy.divisible' field requires a non-zero argument");
				return SS_FAILURE;
			}
			s->u64[i & 3] = (v % f->arg_index) == 0;
			f->res.u64 = &s->u64[i & 3];
			f->res_len = 1;
			break;
		case 1:
			s->u64[i & 3] = v;
			f->res.u64 = &s->u64[i & 3];
			f->res_len = 1;
			break;
		case 2: {
			uint32_t n = plen < sizeof s->str - 1 ? plen : (uint32_t)sizeof s->str - 1;
			memcpy(s->str, p, n);
			s->str[n] = 0;
			s->strp = s->str;
			f->res.str = &s->strp;
			f->res_len = 1;
			break;
		}
		default:
			snprintf(s->lasterr, sizeof s->lasterr, "no known field: %s", f->field ? f->field : "?");
			return SS_FAILURE;
		}
	}
	return SS_SUCCESS;
}
