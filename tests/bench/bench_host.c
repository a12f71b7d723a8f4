/*
 * bench_host.c: loads a Falco plugin .so with dlopen(RTLD_NOW|RTLD_LOCAL)
 * like Falco, drives it like libsinsp, prints ONE JSON line of figures.
 *
 * Build (bench.ts does it): gcc -O2 -pthread -o bench_host tests/bench/bench_host.c -ldl
 *
 * Source mode (dummy workload):
 *   bench_host --plugin lib.so --config '{"jitter":10}' --events N
 *              [--open '{"start":1,"maxEvents":N}'] --field dummy.value
 *              --field dummy.strvalue --field 'dummy.divisible[3]'
 *   --extract-events M: extract only on the first M events (default N);
 *   --max-seconds S: stop each timed loop after S seconds (rates stay valid).
 *   1. init (timed: init_ms, the first plugin_init in this process)
 *   2. open, next_batch until N events or EOF, close: events_per_s
 *      (sourcing only, the events are not touched)
 *   3. open again; for every event, one extract_fields call per field with
 *      num_fields = 1 (as libsinsp does): extracts_per_s (time spent in the
 *      extract calls only, timed per batch)
 *   4. handoff_ns: median-of-batches time of one plugin_get_progress call on
 *      an open instance (a call that does no plugin work; for our TS .so it
 *      is one hop to the instance thread and back, if get_progress is routed
 *      there). null if the plugin has no get_progress.
 *   5. instance_rss_kb: RSS (/proc/self/statm) added per extra initialised
 *      instance (3 more instances initialised, average), init2_ms = their mean
 *      init time (warm).
 * Extract-only mode (JSON workload, e.g. the official Go json plugin):
 *   bench_host --plugin libjson.so --config '' --payloads file.jsonl
 *              --plugin-id 1 --source k8s_audit --rounds R
 *              --field 'json.value[/user/username]' ...
 *   synthesises one scap plugin event (type 322: plugin id, payload) per
 *   line of the file, as a source plugin would, and calls extract_fields
 *   on them (one call per field per event, num_fields = 1), R passes over
 *   the file with increasing event numbers. events_per_s is null.
 * Webhook mode (requests/s on loopback, e.g. plugins/webhook.ts or the Go
 * k8saudit plugin opened with http://127.0.0.1:PORT/path):
 *   bench_host --plugin lib.so --config '{...}' --open 127.0.0.1:PORT
 *              --post-port PORT --post-path /k8s-audit --payloads file.jsonl
 *              --requests N --concurrency C [--max-seconds S]
 *   C client threads, each on one keep-alive HTTP/1.1 connection, POST the
 *   lines of the file (Content-Type: application/json; thread t sends lines
 *   t, t+C, ...) one request at a time, N in all, while this thread calls
 *   next_batch as Falco does. requests_per_s = N / (time from the first
 *   request to the N-th event out of next_batch); every request must get a
 *   200 and become exactly one event (else exit 1). Prints
 *   {"requests":N,"concurrency":C,"events":..,"requests_per_s":..,
 *    "latency_ms_avg":..,"non_200":0,"init_ms":..}
 * --check: also prints every extracted value of the first 3 events to stderr.
 * --errors-as-no-value: a failed extract_fields counts as no value, as
 *   libsinsp counts it (the Go k8saudit fails on some fields where a value is
 *   missing); the figures are printed with the error count, exit code 0.
 *
 * Output: {"events":N,"events_per_s":..,"extracts":M,"extracts_per_s":..,
 *          "init_ms":..,"init2_ms":..,"instance_rss_kb":..,"handoff_ns":..,
 *          "handoff_call":"plugin_get_progress","errors":0}
 * Exit code 1 on any failure (with the plugin's last error on stderr).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "plugin_abi.h"

typedef void* (*init_fn)(const ss_plugin_init_input*, ss_plugin_rc*);
typedef void (*destroy_fn)(void*);
typedef const char* (*str_fn)(void);
typedef const char* (*lasterr_fn)(void*);
typedef void* (*open_fn)(void*, const char*, ss_plugin_rc*);
typedef void (*close_fn)(void*, void*);
typedef ss_plugin_rc (*next_fn)(void*, void*, uint32_t*, ss_plugin_event***);
typedef ss_plugin_rc (*extract_fn)(void*, const ss_plugin_event_input*, const ss_plugin_field_extract_input*);
typedef const char* (*progress_fn)(void*, void*, uint32_t*);

static init_fn p_init;
static destroy_fn p_destroy;
static lasterr_fn p_lasterr;
static open_fn p_open;
static close_fn p_close;
static next_fn p_next;
static extract_fn p_extract;
static progress_fn p_progress;
static str_fn p_fields, p_source;

static double now_s(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec * 1e-9;
}

static long rss_kb(void) {
	FILE* f = fopen("/proc/self/statm", "r");
	long a = 0, b = 0;
	if (f) {
		if (fscanf(f, "%ld %ld", &a, &b) != 2) b = 0;
		fclose(f);
	}
	return b * (sysconf(_SC_PAGESIZE) / 1024);
}

static void die(const char* what, void* s, ss_plugin_rc rc) {
	fprintf(stderr, "bench_host: %s failed (rc %d)", what, rc);
	/* only after FAILURE: Go SDK plugins crash on get_last_error without an error */
	if (s && p_lasterr && rc == SS_FAILURE) fprintf(stderr, ": %s", p_lasterr(s));
	fprintf(stderr, "\n");
	exit(1);
}

#define MAXF 16
typedef struct {
	char name[256];
	uint32_t id, ftype, flist;
	int has_arg, arg_is_index;
	uint64_t arg_index;
	char arg_key[256];
} field_req;

/* Finds field `name` in get_fields JSON; minimal scan (names, types, isList,
 * arg kind) good enough for well-formed plugin field lists. */
static int resolve_field(const char* json, const char* spec, field_req* out) {
	char name[256];
	const char* br = strchr(spec, '[');
	size_t nl = br ? (size_t)(br - spec) : strlen(spec);
	if (nl >= sizeof name) return -1;
	memcpy(name, spec, nl);
	name[nl] = 0;
	strcpy(out->name, name);
	out->has_arg = 0;
	if (br) {
		const char* end = strrchr(spec, ']');
		if (!end || end < br) return -1;
		size_t al = (size_t)(end - br - 1);
		if (al >= sizeof out->arg_key) return -1;
		memcpy(out->arg_key, br + 1, al);
		out->arg_key[al] = 0;
		out->has_arg = 1;
	}
	/* walk objects */
	uint32_t idx = 0;
	const char* p = json;
	while ((p = strstr(p, "\"name\"")) != NULL) {
		const char* q = strchr(p + 6, '"');
		if (!q) break;
		const char* e = strchr(q + 1, '"');
		if (!e) break;
		/* object bounds: from previous '{' to matching '}' (no nested braces except arg) */
		const char* ob = p;
		while (ob > json && *ob != '{') ob--;
		const char* oe = ob;
		int depth = 0;
		for (; *oe; oe++) {
			if (*oe == '{') depth++;
			else if (*oe == '}' && --depth == 0) break;
		}
		if ((size_t)(e - q - 1) == strlen(name) && strncmp(q + 1, name, strlen(name)) == 0) {
			char obj[4096];
			size_t ol = (size_t)(oe - ob) < sizeof obj - 1 ? (size_t)(oe - ob) : sizeof obj - 1;
			memcpy(obj, ob, ol);
			obj[ol] = 0;
			out->id = idx;
			out->ftype = 9;
			if (strstr(obj, "\"uint64\"")) out->ftype = 8;
			else if (strstr(obj, "\"bool\"")) out->ftype = 25;
			else if (strstr(obj, "\"reltime\"")) out->ftype = 20;
			else if (strstr(obj, "\"abstime\"")) out->ftype = 21;
			else if (strstr(obj, "\"ipaddr\"")) out->ftype = 40;
			else if (strstr(obj, "\"ipnet\"")) out->ftype = 41;
			out->flist = strstr(obj, "\"isList\":true") || strstr(obj, "\"isList\": true");
			out->arg_is_index = strstr(obj, "\"isIndex\":true") || strstr(obj, "\"isIndex\": true");
			if (out->has_arg && out->arg_is_index) out->arg_index = strtoull(out->arg_key, NULL, 10);
			return 0;
		}
		idx++;
		p = oe;
	}
	return -1;
}

static int nfields;
static field_req reqs[MAXF];
static ss_plugin_extract_field xf;
static ss_plugin_field_extract_input xin;
static const char* evtsrc = "dummy";
static long errors;
static int errors_as_no_value;
static int check;

static void extract_one(void* s, const ss_plugin_event* e, uint64_t num, int k) {
	ss_plugin_event_input ei = {e, num, evtsrc};
	field_req* r = &reqs[k];
	memset(&xf, 0, sizeof xf);
	xf.field_id = r->id;
	xf.field = r->name;
	xf.ftype = r->ftype;
	xf.flist = r->flist;
	if (r->has_arg) {
		xf.arg_present = 1;
		if (r->arg_is_index) xf.arg_index = r->arg_index;
		else xf.arg_key = r->arg_key;
	}
	xin.num_fields = 1;
	xin.fields = &xf;
	if (p_extract(s, &ei, &xin) != SS_SUCCESS) {
		if (errors++ < 3) fprintf(stderr, "bench_host: extract %s: %s\n", r->name, p_lasterr(s));
		return;
	}
	if (check && num <= 3) {
		fprintf(stderr, "evt %llu %s%s%s%s =", (unsigned long long)num, r->name, r->has_arg ? "[" : "",
		        r->has_arg ? r->arg_key : "", r->has_arg ? "]" : "");
		for (uint64_t i = 0; i < xf.res_len; i++) {
			if (xf.ftype == 9) fprintf(stderr, " %s", xf.res.str[i]);
			else if (xf.ftype == 25) fprintf(stderr, " %u", xf.res.boolean[i]);
			else if (xf.ftype == 40 || xf.ftype == 41) fprintf(stderr, " <buf>");
			else fprintf(stderr, " %llu", (unsigned long long)xf.res.u64[i]);
		}
		fprintf(stderr, "%s\n", xf.res_len ? "" : " <none>");
	}
}

static int cmp_d(const void* a, const void* b) {
	double x = *(const double*)a, y = *(const double*)b;
	return x < y ? -1 : x > y;
}

/* ---- webhook mode: HTTP/1.1 keep-alive clients on loopback ---------------- */

static char** post_bodies;
static size_t post_nbodies;
static int post_port;
static const char* post_path = "/";
static atomic_int clients_ready, clients_done;
static atomic_int go_flag;
static atomic_long non_200, client_errors;
static double latency_sum_s;
static pthread_mutex_t latency_mu = PTHREAD_MUTEX_INITIALIZER;

typedef struct {
	int index, concurrency;
	long count;
} client_arg;

static int connect_loopback(double give_up_s) {
	double t0 = now_s();
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) return -1;
		struct sockaddr_in a = {0};
		a.sin_family = AF_INET;
		a.sin_port = htons((uint16_t)post_port);
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (connect(fd, (struct sockaddr*)&a, sizeof a) == 0) {
			/* one small request at a time: Nagle would add 40 ms waits */
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			return fd;
		}
		close(fd);
		/* the plugin's server may not be listening yet */
		if (now_s() - t0 > give_up_s) return -1;
		usleep(10000);
	}
}

static int write_all(int fd, const char* p, size_t n) {
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0) return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one response; returns its status (0 on error), sets *closing when
 * the server will close the connection. Handles Content-Length and chunked
 * bodies (small ones: the answers here are a few bytes). */
static int read_response(int fd, int* closing) {
	char buf[8192];
	size_t have = 0;
	char* hend = NULL;
	while (!hend) {
		if (have == sizeof buf - 1) return 0;
		ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
		if (r <= 0) return 0;
		have += (size_t)r;
		buf[have] = 0;
		hend = strstr(buf, "\r\n\r\n");
	}
	int status = 0;
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) return 0;
	size_t hlen = (size_t)(hend + 4 - buf);
	long clen = -1;
	int chunked = 0;
	*closing = 0;
	for (char* l = strstr(buf, "\r\n") + 2; l < hend; l = strstr(l, "\r\n") + 2) {
		if (!strncasecmp(l, "content-length:", 15)) clen = atol(l + 15);
		else if (!strncasecmp(l, "transfer-encoding:", 18) && strstr(l, "chunked")) chunked = 1;
		else if (!strncasecmp(l, "connection:", 11) && strncasecmp(l + 11, " close", 6) == 0) *closing = 1;
	}
	if (chunked) {
		while (!strstr(buf + hlen, "0\r\n\r\n")) {
			if (have == sizeof buf - 1) return 0;
			ssize_t r = recv(fd, buf + have, sizeof buf - 1 - have, 0);
			if (r <= 0) return 0;
			have += (size_t)r;
			buf[have] = 0;
		}
	} else if (clen > 0) {
		long body = (long)(have - hlen);
		while (body < clen) {
			ssize_t r = recv(fd, buf, sizeof buf, 0);
			if (r <= 0) return 0;
			body += r;
		}
	}
	return status;
}

static void* client_main(void* p) {
	client_arg* a = p;
	int fd = connect_loopback(15);
	atomic_fetch_add(&clients_ready, 1);
	if (fd < 0) {
		atomic_fetch_add(&client_errors, 1);
		atomic_fetch_add(&clients_done, 1);
		return NULL;
	}
	while (!atomic_load(&go_flag)) usleep(200);
	double lat = 0;
	char head[512];
	for (long k = 0; k < a->count; k++) {
		const char* body = post_bodies[(size_t)(a->index + k * a->concurrency) % post_nbodies];
		size_t bl = strlen(body);
		int hl = snprintf(head, sizeof head,
		                  "POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
		                  "Content-Length: %zu\r\n\r\n",
		                  post_path, post_port, bl);
		double t = now_s();
		int closing = 0, status = 0;
		if (write_all(fd, head, (size_t)hl) == 0 && write_all(fd, body, bl) == 0) status = read_response(fd, &closing);
		lat += now_s() - t;
		if (status != 200) atomic_fetch_add(&non_200, 1);
		if (status == 0 || closing) {
			close(fd);
			fd = connect_loopback(5);
			if (fd < 0) {
				atomic_fetch_add(&client_errors, 1);
				break;
			}
		}
	}
	if (fd >= 0) close(fd);
	pthread_mutex_lock(&latency_mu);
	latency_sum_s += lat;
	pthread_mutex_unlock(&latency_mu);
	atomic_fetch_add(&clients_done, 1);
	return NULL;
}

static char** read_lines(const char* file, size_t* count) {
	FILE* f = fopen(file, "r");
	if (!f) { perror(file); exit(1); }
	size_t cap = 1024, cnt = 0;
	char** out = malloc(cap * sizeof *out);
	char* line = NULL;
	size_t lcap = 0;
	ssize_t l;
	while ((l = getline(&line, &lcap, f)) > 0) {
		while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) line[--l] = 0;
		if (l == 0) continue;
		if (cnt == cap) out = realloc(out, (cap *= 2) * sizeof *out);
		out[cnt++] = strdup(line);
	}
	free(line);
	fclose(f);
	*count = cnt;
	return out;
}

/* Opens the plugin's listener, posts `requests` documents from `concurrency`
 * clients, counts the events that come out of next_batch; prints one JSON
 * line, returns the exit code. */
static int webhook_mode(void* s, const char* openp, long requests, int concurrency, double max_s, double init_ms) {
	ss_plugin_rc rc = SS_FAILURE;
	void* inst = p_open(s, openp, &rc);
	if (rc != SS_SUCCESS) die("plugin_open", s, rc);
	pthread_t* th = calloc((size_t)concurrency, sizeof *th);
	client_arg* args = calloc((size_t)concurrency, sizeof *args);
	for (int t = 0; t < concurrency; t++) {
		args[t] = (client_arg){t, concurrency, requests / concurrency + (t < requests % concurrency)};
		pthread_create(&th[t], NULL, client_main, &args[t]);
	}
	long nev = 0, early = 0;
	double t_go = 0, t_end = 0, t_last = now_s(), t_start = now_s();
	for (;;) {
		/* keep calling next_batch while the clients connect: the plugin's
		 * event loop may only turn while it is called, as under Falco */
		if (!t_go && atomic_load(&clients_ready) == concurrency) {
			t_go = now_s();
			atomic_store(&go_flag, 1);
		}
		uint32_t n = 0;
		ss_plugin_event** evts = NULL;
		rc = p_next(s, inst, &n, &evts);
		if (rc != SS_SUCCESS && rc != SS_TIMEOUT) die("plugin_next_batch", s, rc);
		double t = now_s();
		if (n) t_last = t;
		if (!t_go) early += n;
		else nev += n;
		if (nev >= requests) { t_end = t; break; }
		/* every client finished and nothing more came: some requests were lost */
		if (atomic_load(&clients_done) == concurrency && t - t_last > 2) break;
		if (t - t_start > max_s) break;
	}
	for (int t = 0; t < concurrency; t++) pthread_join(th[t], NULL);
	p_close(s, inst);
	p_destroy(s);
	long bad = atomic_load(&non_200), cerr = atomic_load(&client_errors);
	printf("{\"requests\":%ld,\"concurrency\":%d,\"events\":%ld,\"requests_per_s\":", requests, concurrency, nev);
	if (t_end > t_go && t_go > 0) printf("%.1f", requests / (t_end - t_go)); else printf("null");
	printf(",\"latency_ms_avg\":%.3f,\"non_200\":%ld,\"client_errors\":%ld,\"init_ms\":%.3f}\n",
	       latency_sum_s / requests * 1e3, bad, cerr, init_ms);
	fflush(stdout);
	if (nev != requests || early || bad || cerr) {
		fprintf(stderr, "bench_host: %ld requests gave %ld events (%ld before the start), %ld non-200, %ld client errors\n",
		        requests, nev, early, bad, cerr);
		return 1;
	}
	return 0;
}

int main(int argc, char** argv) {
	const char *path = NULL, *config = "", *openp = NULL, *payloads = NULL, *source = NULL;
	long nevents = 100000, rounds = 1, xevents = -1, requests = 0;
	int concurrency = 8;
	double max_s = 1e9;
	uint32_t plugin_id = 999;
	const char* fspecs[MAXF];
	for (int i = 1; i < argc; i++) {
		const char* a = argv[i];
		const char* v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--check")) { check = 1; continue; }
		if (!strcmp(a, "--errors-as-no-value")) { errors_as_no_value = 1; continue; }
		if (!v) { fprintf(stderr, "bench_host: %s needs a value\n", a); return 2; }
		i++;
		if (!strcmp(a, "--plugin")) path = v;
		else if (!strcmp(a, "--config")) config = v;
		else if (!strcmp(a, "--open")) openp = v;
		else if (!strcmp(a, "--events")) nevents = atol(v);
		else if (!strcmp(a, "--extract-events")) xevents = atol(v);
		else if (!strcmp(a, "--max-seconds")) max_s = atof(v);
		else if (!strcmp(a, "--payloads")) payloads = v;
		else if (!strcmp(a, "--rounds")) rounds = atol(v);
		else if (!strcmp(a, "--plugin-id")) plugin_id = (uint32_t)atol(v);
		else if (!strcmp(a, "--source")) source = v;
		else if (!strcmp(a, "--requests")) requests = atol(v);
		else if (!strcmp(a, "--concurrency")) concurrency = atoi(v);
		else if (!strcmp(a, "--post-port")) post_port = atoi(v);
		else if (!strcmp(a, "--post-path")) post_path = v;
		else if (!strcmp(a, "--field")) {
			if (nfields >= MAXF) return 2;
			fspecs[nfields++] = v;
		} else { fprintf(stderr, "bench_host: unknown argument %s\n", a); return 2; }
	}
	if (!path) { fprintf(stderr, "usage: see the comment at the top of bench_host.c\n"); return 2; }
	void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) { fprintf(stderr, "bench_host: dlopen: %s\n", dlerror()); return 1; }
	p_init = (init_fn)dlsym(h, "plugin_init");
	p_destroy = (destroy_fn)dlsym(h, "plugin_destroy");
	p_lasterr = (lasterr_fn)dlsym(h, "plugin_get_last_error");
	p_open = (open_fn)dlsym(h, "plugin_open");
	p_close = (close_fn)dlsym(h, "plugin_close");
	p_next = (next_fn)dlsym(h, "plugin_next_batch");
	p_extract = (extract_fn)dlsym(h, "plugin_extract_fields");
	p_progress = (progress_fn)dlsym(h, "plugin_get_progress");
	p_fields = (str_fn)dlsym(h, "plugin_get_fields");
	p_source = (str_fn)dlsym(h, "plugin_get_event_source");
	if (!p_init || !p_destroy || !p_lasterr) { fprintf(stderr, "bench_host: not a plugin\n"); return 1; }
	if (source) evtsrc = source;
	else if (p_source) evtsrc = p_source();
	if (nfields && (!p_fields || !p_extract)) { fprintf(stderr, "bench_host: no extraction capability\n"); return 1; }
	for (int k = 0; k < nfields; k++)
		if (resolve_field(p_fields(), fspecs[k], &reqs[k])) {
			fprintf(stderr, "bench_host: unknown field %s\n", fspecs[k]);
			return 1;
		}
	char openbuf[256];
	if (!openp) {
		snprintf(openbuf, sizeof openbuf, "{\"start\":1,\"maxEvents\":%ld}", nevents);
		openp = openbuf;
	}

	/* 1. init (cold) */
	ss_plugin_init_input in = {config, NULL, NULL, NULL, NULL};
	ss_plugin_rc rc = SS_FAILURE;
	double t0 = now_s();
	void* s = p_init(&in, &rc);
	double init_ms = (now_s() - t0) * 1e3;
	if (rc != SS_SUCCESS) die("plugin_init", s, rc);

	if (requests > 0) {
		if (!p_open || !p_next || !p_close || !payloads || !post_port || concurrency < 1) {
			fprintf(stderr, "bench_host: webhook mode needs a source plugin, --payloads, --post-port, --concurrency >= 1\n");
			return 2;
		}
		post_bodies = read_lines(payloads, &post_nbodies);
		if (!post_nbodies) { fprintf(stderr, "bench_host: no payloads\n"); return 1; }
		return webhook_mode(s, openp, requests, concurrency, max_s < 1e8 ? max_s : 60, init_ms);
	}

	double events_per_s = -1, extracts_per_s = -1, handoff_ns = -1;
	long nev = 0, nextr = 0;
	if (!payloads) {
		if (!p_open || !p_next || !p_close) { fprintf(stderr, "bench_host: no sourcing capability\n"); return 1; }
		/* 2. sourcing only */
		void* inst = p_open(s, openp, &rc);
		if (rc != SS_SUCCESS) die("plugin_open", s, rc);
		t0 = now_s();
		while (nev < nevents) {
			uint32_t n = 0;
			ss_plugin_event** evts = NULL;
			rc = p_next(s, inst, &n, &evts);
			nev += n;
			if (rc == SS_EOF) break;
			if (rc != SS_SUCCESS && rc != SS_TIMEOUT) die("plugin_next_batch", s, rc);
			if (now_s() - t0 > max_s) break;
		}
		double dt = now_s() - t0;
		events_per_s = nev / dt;
		p_close(s, inst);

		/* 3. extraction, one call per field per event */
		if (nfields) {
			inst = p_open(s, openp, &rc);
			if (rc != SS_SUCCESS) die("plugin_open", s, rc);
			long got = 0;
			double tx = 0;
			if (xevents < 0 || xevents > nevents) xevents = nevents;
			while (got < xevents) {
				uint32_t n = 0;
				ss_plugin_event** evts = NULL;
				rc = p_next(s, inst, &n, &evts);
				if (rc != SS_SUCCESS && rc != SS_TIMEOUT && rc != SS_EOF) die("plugin_next_batch", s, rc);
				double tb = now_s();
				for (uint32_t i = 0; i < n && got < xevents; i++) {
					got++;
					for (int k = 0; k < nfields; k++) extract_one(s, evts[i], (uint64_t)got, k);
					nextr += nfields;
				}
				tx += now_s() - tb;
				if (rc == SS_EOF || tx > max_s) break;
			}
			extracts_per_s = nextr / tx;
			/* 4. hand-off: get_progress on the open instance */
			if (p_progress) {
				enum { B = 21, PER = 2000 };
				double med[B];
				uint32_t pct;
				for (int b = 0; b < B; b++) {
					double tb = now_s();
					for (int i = 0; i < PER; i++) p_progress(s, inst, &pct);
					med[b] = (now_s() - tb) / PER * 1e9;
				}
				qsort(med, B, sizeof med[0], cmp_d);
				handoff_ns = med[B / 2];
			}
			p_close(s, inst);
		}
	} else {
		/* extract-only over synthesised plugin events */
		FILE* f = fopen(payloads, "r");
		if (!f) { perror(payloads); return 1; }
		size_t cap = 1024, cnt = 0;
		uint8_t** evs = malloc(cap * sizeof *evs);
		char* line = NULL;
		size_t lcap = 0;
		ssize_t l;
		while ((l = getline(&line, &lcap, f)) > 0) {
			while (l > 0 && (line[l - 1] == '\n' || line[l - 1] == '\r')) l--;
			if (l == 0) continue;
			uint32_t len = 26 + 8 + 4 + (uint32_t)l;
			uint8_t* b = malloc(len);
			ss_plugin_event hd = {UINT64_MAX, UINT64_MAX, len, 322, 2};
			memcpy(b, &hd, 26);
			uint32_t l0 = 4, l1 = (uint32_t)l;
			memcpy(b + 26, &l0, 4);
			memcpy(b + 30, &l1, 4);
			memcpy(b + 34, &plugin_id, 4);
			memcpy(b + 38, line, (size_t)l);
			if (cnt == cap) evs = realloc(evs, (cap *= 2) * sizeof *evs);
			evs[cnt++] = b;
		}
		fclose(f);
		if (!cnt) { fprintf(stderr, "bench_host: no payloads\n"); return 1; }
		uint64_t num = 0;
		t0 = now_s();
		for (long r = 0; r < rounds; r++)
			for (size_t i = 0; i < cnt; i++) {
				num++;
				for (int k = 0; k < nfields; k++) extract_one(s, (ss_plugin_event*)evs[i], num, k);
				nextr += nfields;
			}
		extracts_per_s = nextr / (now_s() - t0);
		nev = (long)num;
	}

	/* 5. memory per extra instance, warm init time */
	enum { K = 3 };
	void* more[K];
	long r0 = rss_kb();
	double ti = 0;
	for (int k = 0; k < K; k++) {
		rc = SS_FAILURE;
		double tk = now_s();
		more[k] = p_init(&in, &rc);
		ti += now_s() - tk;
		if (rc != SS_SUCCESS) die("plugin_init (extra instance)", more[k], rc);
	}
	long r1 = rss_kb();
	for (int k = 0; k < K; k++) p_destroy(more[k]);
	p_destroy(s);

	printf("{\"events\":%ld,\"events_per_s\":", nev);
	if (events_per_s < 0) printf("null"); else printf("%.1f", events_per_s);
	printf(",\"extracts\":%ld,\"extracts_per_s\":", nextr);
	if (extracts_per_s < 0) printf("null"); else printf("%.1f", extracts_per_s);
	printf(",\"init_ms\":%.3f,\"init2_ms\":%.3f,\"instance_rss_kb\":%.1f,\"handoff_ns\":", init_ms, ti / K * 1e3,
	       (double)(r1 - r0) / K);
	if (handoff_ns < 0) printf("null"); else printf("%.1f", handoff_ns);
	printf(",\"handoff_call\":\"plugin_get_progress\",\"errors\":%ld}\n", errors);
	fflush(stdout);
	return errors && !errors_as_no_value ? 1 : 0;
}
