"""In-tree scheduler plugins, one module each, wired in `registry` (upstream's
`pkg/scheduler/framework/plugins/`)."""
