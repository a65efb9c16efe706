; inherits: javascript
; TypeScript's own definitions, after JavaScript's.
(abstract_class_declaration body: (class_body "{" @open)) @definition
(interface_declaration body: (interface_body "{" @open)) @definition
(internal_module body: (statement_block "{" @open)) @definition
