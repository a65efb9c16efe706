((function_call name: (identifier) @_f arguments: (arguments (string) @_s)) @hole
  (#eq? @_f "error") (#match? @_s "(?i)todo|not implemented"))
((comment) @hole (#match? @hole "TODO|FIXME"))
