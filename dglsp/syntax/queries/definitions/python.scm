; Definitions around a cursor, read by dglsp/syntax/gap.py. @definition: a scope whose header the model should see
; (functions, classes); @function: one whose body "Complete body" may write, with @body (its statements) and @open
; (the token the body follows); @keep: text a body fill keeps (docstrings, comments).
(function_definition ":" @open body: (block) @body) @definition @function
(class_definition ":" @open) @definition
(function_definition body: (block . (expression_statement (string)) @keep))
(comment) @keep
