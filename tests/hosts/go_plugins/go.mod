module github.com/falco-deno/falco-deno/tests/hosts/go_plugins

go 1.24

require (
	github.com/alecthomas/jsonschema v0.0.0-20220216202328-9eeeec9d044b // indirect
	github.com/falcosecurity/plugin-sdk-go v0.8.3 // indirect
	github.com/falcosecurity/plugins/plugins/dummy v0.11.5 // indirect
	github.com/falcosecurity/plugins/plugins/json v0.7.4 // indirect
	github.com/falcosecurity/plugins/plugins/k8saudit v0.18.0 // indirect
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/iancoleman/orderedmap v0.3.0 // indirect
	github.com/valyala/fastjson v1.6.10 // indirect
	golang.org/x/sys v0.13.0 // indirect
)
