/*
 * plugin_abi.h: the parts of Falco's plugin API (libs userspace/plugin/
 * plugin_api.h, 3.x) that the bench host and the native dummy plugin use,
 * written out so both build with a bare gcc.
 */
#ifndef FALCO_DENO_BENCH_PLUGIN_ABI_H
#define FALCO_DENO_BENCH_PLUGIN_ABI_H

#include <stdint.h>

typedef int32_t ss_plugin_rc;
enum { SS_SUCCESS = 0, SS_FAILURE = 1, SS_TIMEOUT = -1, SS_EOF = 2 };

#pragma pack(push, 1)
typedef struct {
	uint64_t ts;
	uint64_t tid;
	uint32_t len;
	uint16_t type;
	uint32_t nparams;
} ss_plugin_event;
#pragma pack(pop)

typedef struct {
	const ss_plugin_event* evt;
	uint64_t evtnum;
	const char* evtsrc;
} ss_plugin_event_input;

typedef struct {
	const char* config;
	void* owner;
	void* get_owner_last_error;
	void* tables;
	void* log_fn;
} ss_plugin_init_input;

typedef struct {
	union {
		const char** str;
		uint64_t* u64;
		uint32_t* boolean;
		void* buf;
	} res;
	uint64_t res_len;
	uint32_t field_id;
	const char* field;
	const char* arg_key;
	uint64_t arg_index;
	uint32_t arg_present;
	uint32_t ftype;
	uint32_t flist;
} ss_plugin_extract_field;

/* plugin API 3.x layout up to value_offsets (3.11); readers left NULL */
typedef struct {
	void* owner;
	void* get_owner_last_error;
	uint32_t num_fields;
	ss_plugin_extract_field* fields;
	void* table_reader[3]; /* ss_plugin_table_reader_vtable: 3 fn pointers */
	void* table_reader_ext;
	void* value_offsets;
} ss_plugin_field_extract_input;

#endif
