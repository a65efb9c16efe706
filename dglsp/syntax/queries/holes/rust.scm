((macro_invocation macro: (identifier) @_m) @hole (#any-of? @_m "todo" "unimplemented"))
((line_comment) @hole (#match? @hole "TODO|FIXME"))
((block_comment) @hole (#match? @hole "TODO|FIXME"))
