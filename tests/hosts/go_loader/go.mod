module github.com/falco-deno/falco-deno/tests/hosts/go_loader

go 1.24

require github.com/falcosecurity/plugin-sdk-go v0.8.3

require (
	github.com/xeipuuv/gojsonpointer v0.0.0-20190905194746-02993c407bfb // indirect
	github.com/xeipuuv/gojsonreference v0.0.0-20180127040603-bd5ef7bd5415 // indirect
	github.com/xeipuuv/gojsonschema v1.2.0 // indirect
)
