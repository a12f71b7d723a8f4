// falco-deno-sinsp-host: drives plugins through libsinsp's public API, the
// way Falco does, and prints what happened as JSON. libsinsp loads, checks,
// initializes and calls the plugins, compiles the filters and formats the
// outputs; this file only says what to do and records the results.
//
//   falco-deno-sinsp-host <spec.json>   (or the spec on stdin)
//
// Spec: {"parallel": bool, "sessions": [{
//   "plugins": [{"path": "...", "config": "...",
//                "lastError": true}],                 (false: never call
//                                                      its get_last_error)
//   "open": {"plugin": "<name>", "params": "..."},   (optional)
//   "filters": ["dummy.value > 3", ...],              (counted per event)
//   "fields": ["dummy.value", ...],                   (per event, through
//                                                      libsinsp's formatter)
//   "format": "%evt.num %dummy.value",                (optional output)
//   "rules": [{"name": "...", "condition": "...",     (Falco rules: which
//              "output": "..."}],                      fire per event, and
//                                                      their output)
//   "filterCache": true,                              (false: compile
//                                                      without libsinsp's
//                                                      default filter cache)
//   "maxEvents": 100, "maxFailures": 5, "maxTimeouts": 100000,
//   "record": true }]}                                (false: counts only)
//
// Each session is one sinsp inspector (Falco runs one per event source);
// with "parallel" the sessions run at once, one thread each.

#include <libsinsp/sinsp.h>
#include <libsinsp/eventformatter.h>
#include <libsinsp/filter.h>
#include <libsinsp/filter_check_list.h>
#include <libsinsp/plugin.h>
#include <libsinsp/plugin_filtercheck.h>

#include <json/json.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string hex(const char* data, uint32_t len) {
	static const char digits[] = "0123456789abcdef";
	std::string out;
	out.reserve(len * 2);
	for(uint32_t i = 0; i < len; i++) {
		auto b = static_cast<unsigned char>(data[i]);
		out.push_back(digits[b >> 4]);
		out.push_back(digits[b & 15]);
	}
	return out;
}

Json::Value caps_json(plugin_caps_t caps) {
	Json::Value out(Json::arrayValue);
	if(caps & CAP_SOURCING) out.append("sourcing");
	if(caps & CAP_EXTRACTION) out.append("extraction");
	if(caps & CAP_PARSING) out.append("parsing");
	if(caps & CAP_ASYNC) out.append("async");
	if(caps & CAP_CAPTURE_LISTENING) out.append("capture_listening");
	return out;
}

// The plugin as libsinsp read it (from its symbols and get_* functions).
// The event codes exist only once the plugin is initialized.
Json::Value describe(const std::shared_ptr<sinsp_plugin>& p, bool inited) {
	Json::Value d;
	d["name"] = p->name();
	d["version"] = p->plugin_version().as_string();
	d["requiredApiVersion"] = p->required_api_version().as_string();
	d["caps"] = caps_json(p->caps());
	if(p->caps() & CAP_SOURCING) {
		d["id"] = p->id();
		d["eventSource"] = p->event_source();
	}
	if(p->caps() & CAP_EXTRACTION) {
		Json::Value sources(Json::arrayValue);
		for(const auto& s : p->extract_event_sources()) sources.append(s);
		d["extractEventSources"] = sources;
		if(inited) {
			Json::Value codes(Json::arrayValue);
			for(auto code : p->extract_event_codes()) codes.append(static_cast<int>(code));
			d["extractEventCodes"] = codes;
			Json::Value names(Json::arrayValue);
			std::vector<std::string> sorted;
			for(const auto& n : libsinsp::events::event_set_to_names(p->extract_event_codes()))
				sorted.push_back(n);
			std::sort(sorted.begin(), sorted.end());
			for(const auto& n : sorted) names.append(n);
			d["extractEventTypes"] = names;
		}
		Json::Value fields(Json::arrayValue);
		Json::Value field_info(Json::arrayValue);
		for(const auto& f : p->fields()) {
			fields.append(f.m_name);
			Json::Value info;
			info["name"] = f.m_name;
			info["type"] = param_type_to_string(f.m_type);
			info["isList"] = f.is_list();
			info["argRequired"] = (f.m_flags & EPF_ARG_REQUIRED) != 0;
			info["argAllowed"] = (f.m_flags & EPF_ARG_ALLOWED) != 0;
			info["argIndex"] = (f.m_flags & EPF_ARG_INDEX) != 0;
			info["argKey"] = (f.m_flags & EPF_ARG_KEY) != 0;
			field_info.append(info);
		}
		d["fields"] = fields;
		// Each field's type and argument form, as libsinsp read them.
		d["fieldInfo"] = field_info;
	}
	return d;
}

// A JSON value from libsinsp's JSON formatter as canonical text values
// (tests/scenarios.ts): strings as they are, numbers in decimal, booleans.
Json::Value canonical(const Json::Value& v) {
	if(v.isNull()) return Json::nullValue;
	Json::Value out(Json::arrayValue);
	auto one = [&](const Json::Value& x) {
		if(x.isBool()) {
			out.append(x.asBool() ? "true" : "false");
		} else if(x.isUInt64()) {
			out.append(std::to_string(x.asUInt64()));
		} else if(x.isInt64()) {
			out.append(std::to_string(x.asInt64()));
		} else {
			out.append(x.asString());
		}
	};
	if(v.isArray()) {
		for(const auto& x : v) one(x);
	} else {
		one(v);
	}
	return out;
}

// A rule as Falco runs it: a compiled condition and, when it matches, its
// output format.
struct compiled_rule {
	std::unique_ptr<sinsp_filter> condition;
	std::unique_ptr<sinsp_evt_formatter> output;
};

struct field_probe {
	std::string name;
	// the plugin that owns the field, to read its last error
	std::shared_ptr<sinsp_plugin> owner;
	std::unique_ptr<sinsp_evt_formatter> json;
	std::unique_ptr<sinsp_evt_formatter> text;
};

std::string next_result_name(int32_t res) {
	switch(res) {
	case SCAP_SUCCESS:
		return "success";
	case SCAP_TIMEOUT:
		return "timeout";
	case SCAP_EOF:
		return "eof";
	case SCAP_FAILURE:
		return "failure";
	case SCAP_FILTERED_EVENT:
		return "filtered";
	default:
		return "code " + std::to_string(res);
	}
}

Json::Value run_session(const Json::Value& spec) {
	Json::Value out;
	Json::Value errors(Json::arrayValue);
	auto started = std::chrono::steady_clock::now();
	sinsp inspector;
	// Falco's check list for a plugin event source: the generic event fields
	// and every extraction plugin's fields.
	filter_check_list checks;
	checks.add_filter_check(sinsp::new_generic_filtercheck());

	Json::Value plugins(Json::arrayValue);
	std::vector<std::shared_ptr<sinsp_plugin>> loaded;
	// Plugins whose get_last_error may be called when nothing failed
	// (plugin-sdk-go's dereferences a nil error then).
	std::vector<bool> ask_last_error;
	for(const auto& p : spec["plugins"]) {
		Json::Value d;
		d["path"] = p["path"].asString();
		try {
			auto plugin = inspector.register_plugin(p["path"].asString());
			std::string err;
			bool inited = false;
			try {
				inited = plugin->init(p["config"].asString(), err);
			} catch(const std::exception& e) {
				// libsinsp validates the config against the plugin's schema
				// and throws when it does not conform
				err = e.what();
			}
			if(!inited) {
				d["initError"] = err;
			} else {
				if(plugin->caps() & CAP_EXTRACTION) {
					checks.add_filter_check(sinsp_plugin::new_filtercheck(plugin));
				}
				loaded.push_back(plugin);
				ask_last_error.push_back(p.get("lastError", true).asBool());
			}
			Json::Value described = describe(plugin, inited);
			for(const auto& key : described.getMemberNames()) d[key] = described[key];
		} catch(const std::exception& e) {
			d["registerError"] = e.what();
		}
		plugins.append(d);
	}
	out["plugins"] = plugins;

	auto factory = std::make_shared<sinsp_filter_factory>(&inspector, checks);
	// nullptr: the compiler's default, the expression-string cache that
	// shares extracted values among the uses of a field in one filter.
	std::shared_ptr<sinsp_filter_cache_factory> cache_factory;
	if(!spec.get("filterCache", true).asBool()) {
		cache_factory = std::make_shared<sinsp_filter_cache_factory>();
	}
	std::vector<std::unique_ptr<sinsp_filter>> filters;
	Json::Value filter_results(Json::arrayValue);
	for(const auto& f : spec["filters"]) {
		Json::Value r;
		r["filter"] = f.asString();
		r["matched"] = 0;
		try {
			sinsp_filter_compiler compiler(factory, f.asString(), cache_factory);
			filters.push_back(compiler.compile());
		} catch(const std::exception& e) {
			r["error"] = e.what();
			filters.push_back(nullptr);
		}
		filter_results.append(r);
	}

	std::vector<compiled_rule> rules;
	Json::Value rule_results(Json::arrayValue);
	for(const auto& r : spec["rules"]) {
		Json::Value result;
		result["name"] = r["name"].asString();
		result["matched"] = 0;
		compiled_rule rule;
		try {
			sinsp_filter_compiler compiler(factory, r["condition"].asString(), cache_factory);
			rule.condition = compiler.compile();
		} catch(const std::exception& e) {
			result["conditionError"] = e.what();
		}
		try {
			rule.output = std::make_unique<sinsp_evt_formatter>(&inspector,
			                                                    r["output"].asString(),
			                                                    checks);
		} catch(const std::exception& e) {
			result["outputError"] = e.what();
		}
		rules.push_back(std::move(rule));
		rule_results.append(result);
	}

	std::vector<field_probe> probes;
	for(const auto& f : spec["fields"]) {
		field_probe probe;
		probe.name = f.asString();
		try {
			// "*": print even when the value is missing
			probe.json = std::make_unique<sinsp_evt_formatter>(&inspector,
			                                                   "*%" + probe.name,
			                                                   checks);
			probe.json->set_format(sinsp_evt_formatter::OF_JSON, "*%" + probe.name);
			probe.text = std::make_unique<sinsp_evt_formatter>(&inspector,
			                                                   "*%" + probe.name,
			                                                   checks);
		} catch(const std::exception& e) {
			errors.append("field \"" + probe.name + "\": " + e.what());
			continue;
		}
		std::string base = probe.name.substr(0, probe.name.find('['));
		for(size_t i = 0; i < loaded.size(); i++) {
			const auto& p = loaded[i];
			if(!(p->caps() & CAP_EXTRACTION) || !ask_last_error[i]) continue;
			for(const auto& f : p->fields())
				if(f.m_name == base) probe.owner = p;
		}
		probes.push_back(std::move(probe));
	}
	std::unique_ptr<sinsp_evt_formatter> output_formatter;
	if(spec.isMember("format")) {
		try {
			output_formatter =
			        std::make_unique<sinsp_evt_formatter>(&inspector, spec["format"].asString(), checks);
		} catch(const std::exception& e) {
			out["formatError"] = e.what();
		}
	}

	Json::Value counts;
	uint64_t events = 0, timeouts = 0, failures = 0, outputs = 0;
	Json::Value event_list(Json::arrayValue);
	std::string end = "none";
	double loop_seconds = 0;
	if(spec.isMember("open")) {
		bool opened = false;
		try {
			const auto& name = spec["open"]["plugin"].asString();
			uint32_t id = 0;
			for(const auto& p : loaded)
				if(p->name() == name) id = p->id();
			inspector.open_plugin(name,
			                      spec["open"]["params"].asString(),
			                      id == 0 ? sinsp_plugin_platform::SINSP_PLATFORM_FULL
			                              : sinsp_plugin_platform::SINSP_PLATFORM_HOSTINFO);
			opened = true;
		} catch(const std::exception& e) {
			out["openError"] = e.what();
			end = "openError";
		}
		const uint64_t max_events = spec.get("maxEvents", 100).asUInt64();
		const uint64_t max_failures = spec.get("maxFailures", 0).asUInt64();
		const uint64_t max_timeouts = spec.get("maxTimeouts", 1000000).asUInt64();
		const bool record = spec.get("record", true).asBool();
		std::vector<uint64_t> matched(filters.size(), 0);
		std::vector<uint64_t> fired_count(rules.size(), 0);
		auto loop_started = std::chrono::steady_clock::now();
		std::string output;
		while(opened) {
			if(events >= max_events) {
				end = "maxEvents";
				break;
			}
			sinsp_evt* evt = nullptr;
			int32_t res;
			try {
				res = inspector.next(&evt);
			} catch(const std::exception& e) {
				errors.append(std::string("next threw: ") + e.what());
				res = SCAP_FAILURE;
			}
			if(res == SCAP_TIMEOUT || res == SCAP_FILTERED_EVENT) {
				if(++timeouts > max_timeouts) {
					end = "timeouts";
					break;
				}
				continue;
			}
			if(res == SCAP_EOF) {
				end = "eof";
				break;
			}
			if(res != SCAP_SUCCESS) {
				errors.append("next: " + next_result_name(res) + ": " + inspector.getlasterr());
				if(++failures > max_failures) {
					end = "failures";
					break;
				}
				continue;
			}
			events++;
			Json::Value e;
			Json::Value matches(Json::arrayValue);
			for(size_t i = 0; i < filters.size(); i++) {
				bool m = false;
				if(filters[i]) {
					try {
						m = filters[i]->run(evt);
					} catch(const std::exception& ex) {
						errors.append(std::string("filter threw: ") + ex.what());
					}
				}
				if(m) matched[i]++;
				matches.append(m);
			}
			if(output_formatter) {
				if(output_formatter->tostring(evt, output)) outputs++;
			}
			Json::Value fired(Json::arrayValue);
			for(size_t i = 0; i < rules.size(); i++) {
				bool m = false;
				if(rules[i].condition) {
					try {
						m = rules[i].condition->run(evt);
					} catch(const std::exception& ex) {
						errors.append(std::string("rule threw: ") + ex.what());
					}
				}
				if(!m) continue;
				fired_count[i]++;
				Json::Value f;
				f["rule"] = (Json::UInt64)i;
				std::string text;
				if(rules[i].output) {
					rules[i].output->tostring(evt, text);
					f["output"] = text;
				}
				fired.append(f);
			}
			if(!record) continue;
			e["num"] = static_cast<Json::UInt64>(evt->get_num());
			e["ts"] = static_cast<Json::UInt64>(evt->get_ts());
			e["type"] = evt->get_type();
			e["source"] = evt->get_source_name() ? evt->get_source_name() : "";
			if(evt->get_type() == PPME_PLUGINEVENT_E) {
				e["pluginId"] = evt->get_param(0)->as<uint32_t>();
				const sinsp_evt_param* payload = evt->get_param(1);
				e["payloadHex"] = hex(payload->m_val, payload->m_len);
			}
			Json::Value fields(Json::objectValue);
			Json::Value texts(Json::objectValue);
			Json::Value extract_errors(Json::objectValue);
			for(auto& probe : probes) {
				std::string rendered;
				probe.json->tostring(evt, rendered);
				Json::Value parsed;
				std::istringstream(rendered) >> parsed;
				fields[probe.name] = canonical(parsed[probe.name]);
				// No value: libsinsp swallows a failed extraction; the
				// plugin's get_last_error says whether it failed.
				if(fields[probe.name].isNull() && probe.owner) {
					extract_errors[probe.name] = probe.owner->get_last_error();
				}
				probe.text->tostring(evt, rendered);
				texts[probe.name] = rendered;
			}
			e["fields"] = fields;
			e["text"] = texts;
			if(!extract_errors.empty()) e["lastErrors"] = extract_errors;
			e["matches"] = matches;
			if(!rules.empty()) e["fired"] = fired;
			if(output_formatter) e["output"] = output;
			event_list.append(e);
		}
		loop_seconds =
		        std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_started)
		                .count();
		for(size_t i = 0; i < filters.size(); i++) filter_results[(int)i]["matched"] = (Json::UInt64)matched[i];
		for(size_t i = 0; i < rules.size(); i++) rule_results[(int)i]["matched"] = (Json::UInt64)fired_count[i];
		if(opened) {
			try {
				inspector.close();
			} catch(const std::exception& e) {
				errors.append(std::string("close threw: ") + e.what());
			}
		}
	}
	for(size_t i = 0; i < loaded.size(); i++) {
		if(!ask_last_error[i]) continue;
		std::string last = loaded[i]->get_last_error();
		if(!last.empty()) out["plugins"][(int)i]["lastError"] = last;
	}
	counts["events"] = (Json::UInt64)events;
	counts["timeouts"] = (Json::UInt64)timeouts;
	counts["failures"] = (Json::UInt64)failures;
	counts["outputs"] = (Json::UInt64)outputs;
	out["counts"] = counts;
	out["filters"] = filter_results;
	if(!rules.empty()) out["rules"] = rule_results;
	out["events"] = event_list;
	out["errors"] = errors;
	out["end"] = end;
	out["loopSeconds"] = loop_seconds;
	out["seconds"] =
	        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
	return out;
}

}  // namespace

int main(int argc, char** argv) {
	Json::Value spec;
	try {
		if(argc > 1) {
			std::ifstream in(argv[1]);
			in >> spec;
		} else {
			std::cin >> spec;
		}
	} catch(const std::exception& e) {
		std::cerr << "Cannot read the spec: " << e.what() << std::endl;
		return 2;
	}
	const auto& sessions = spec["sessions"];
	std::vector<Json::Value> results(sessions.size());
	auto guarded = [&](Json::ArrayIndex i) {
		try {
			results[i] = run_session(sessions[i]);
		} catch(const std::exception& e) {
			results[i]["fatal"] = e.what();
		}
	};
	if(spec.get("parallel", false).asBool()) {
		std::vector<std::thread> threads;
		for(Json::ArrayIndex i = 0; i < sessions.size(); i++) threads.emplace_back(guarded, i);
		for(auto& t : threads) t.join();
	} else {
		for(Json::ArrayIndex i = 0; i < sessions.size(); i++) guarded(i);
	}
	Json::Value out;
	Json::Value list(Json::arrayValue);
	for(auto& r : results) list.append(r);
	out["sessions"] = list;
	Json::StreamWriterBuilder writer;
	writer["indentation"] = "";
	std::cout << Json::writeString(writer, out) << std::endl;
	return 0;
}
