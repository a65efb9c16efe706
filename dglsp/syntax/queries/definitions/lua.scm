; Definitions around a cursor, read by dglsp/syntax/gap.py (capture names: see python.scm). An empty Lua function
; has no block, so its body follows the parameters.
(function_declaration parameters: (parameters) @open body: (block)? @body) @definition @function
(function_definition parameters: (parameters) @open body: (block)? @body) @definition @function
(comment) @keep
