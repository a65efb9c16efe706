;;; dglsp_session.el --- drive `dglsp --stdio' from eglot in `emacs --batch'  -*- lexical-binding: t -*-

;; emacs --batch -l dglsp_session.el OUT_JSON WIRE_JSONL EVENTS_FILE DGLSP MODEL_DIR WORKDIR
;;
;; What a user does, in Emacs 28.2 with Debian's eglot 1.9: open WORKDIR/inline.py, start eglot on it, and
;; `completion-at-point' after "    return "; then open WORKDIR/holes.py, put point on its `...' and run
;; `eglot-code-actions' as M-x does (the range eglot picks itself), choosing "Fill 1 hole" at the prompt.
;; It writes what it saw to OUT_JSON, every JSON-RPC message eglot sent or received to WIRE_JSONL (JSON lines,
;; as they cross the pipe), and at exit, pass or fail, eglot's events buffer and the server's stderr to
;; EVENTS_FILE. The checks live in test_emacs.py; this script exits 1 (reason on stderr and in OUT_JSON's
;; "error") only when the session itself broke: no server, no model, a request that failed or timed out.

(require 'cl-lib)
(require 'eglot)
(require 'jsonrpc)

(defvar dglsp-out (pop command-line-args-left))
(defvar dglsp-wire (pop command-line-args-left))
(defvar dglsp-events (pop command-line-args-left))
(defvar dglsp-program (pop command-line-args-left))
(defvar dglsp-model (pop command-line-args-left))
(defvar dglsp-workdir (file-name-as-directory (pop command-line-args-left)))

(defconst dglsp-timeout 60.0 "Seconds any one awaited event may take before the session fails.")

;; What a test config sets: no "Server wants to edit ... Proceed?" question before `workspace/applyEdit'.
(setq eglot-confirm-server-initiated-edits nil)
;; Starting Python and dglsp on a busy CI box can outlast the 30 s default; the requests' own 10 s default is
;; raised too, so that a slow machine fails on a deadline below, not inside eglot (the tests check behaviour).
(setq eglot-connect-timeout dglsp-timeout
      jsonrpc-default-request-timeout dglsp-timeout)
(defconst dglsp-settings
  ;; Raw first-line fills (a random-weight model's fills never parse), no debounce, and no confidence gate: the
  ;; tiny model is never confident, and the fill must show.
  `(:model ,dglsp-model :parseTrim :json-false :debounceMs 0 :minConfidence 0))
(setq eglot-server-programs
      `((python-mode . (,dglsp-program "--stdio" :initializationOptions ,dglsp-settings))))
;; Only the initializationOptions: eglot 1.9 then sends an empty workspace/didChangeConfiguration (`{}') right
;; after it connects, which must not undo them (it did: the model and the gate went back to their defaults).

;; Whatever the locale, files are written as UTF-8 (in batch, Emacs would otherwise ask which coding to use).
(setq coding-system-for-write 'utf-8-unix)
(delete-file dglsp-wire)
(advice-add 'jsonrpc--log-event :before
            (lambda (_connection message &optional type)
              ;; Every message as it crosses the pipe: TYPE is `client' (eglot sent it) or `server'.
              (write-region (concat (jsonrpc--json-encode
                                     (list :direction (format "%s" (or type 'internal)) :message message))
                                    "\n")
                            nil dglsp-wire t 'silent)))

(defvar dglsp-result (make-hash-table :test #'equal))
(defvar dglsp-server nil)

(defun dglsp-put (key value) (puthash key value dglsp-result))

(defun dglsp-wait (what predicate)
  "Process the server's output until PREDICATE holds.
PREDICATE is tried again at least every 0.25 s; WHAT names it when
`dglsp-timeout' seconds pass first and the session fails."
  (let ((deadline (+ (float-time) dglsp-timeout)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "Timed out after %ss waiting for %s" dglsp-timeout what))
      (accept-process-output nil 0.25))))

(defun dglsp-text () (buffer-substring-no-properties (point-min) (point-max)))

(defun dglsp-open (name)
  (find-file (expand-file-name name dglsp-workdir))
  (unless (derived-mode-p 'python-mode) (error "%s opened in %s, not python-mode" name major-mode))
  (current-buffer))

(defun dglsp-start ()
  "Start eglot on the current buffer, synchronously; wait for the model."
  (let ((eglot-sync-connect t))
    (apply #'eglot (eglot--guess-contact)))
  (setq dglsp-server (eglot-current-server))
  (unless dglsp-server (error "eglot started no server for %s" (buffer-file-name)))
  (let (state)
    ;; The model loads on the server's worker after `initialized'; poll dglsp/stats until it is ready.
    (dglsp-wait "the model to load"
                (lambda ()
                  (setq state (plist-get (jsonrpc-request dglsp-server :dglsp/stats (make-hash-table))
                                         :model))
                  (when (equal (plist-get state :state) "error")
                    (error "The model failed to load: %s" (plist-get state :error)))
                  (equal (plist-get state :state) "ready")))
    (dglsp-put "model_state" (plist-get state :state))))

(defun dglsp-complete ()
  "`completion-at-point' after \"    return \", as a user would press it."
  (with-current-buffer (dglsp-open "inline.py")
    (dglsp-start)
    (goto-char (point-min))
    (search-forward "    return ")
    (dglsp-put "inline_cursor" (1- (point)))
    (dglsp-put "inline_before" (dglsp-text))
    (let* (capf
           (keep (lambda (result) (setq capf result))))
      (advice-add 'eglot-completion-at-point :filter-return keep)
      (unwind-protect (completion-at-point)
        (advice-remove 'eglot-completion-at-point keep))
      (unless capf (error "eglot-completion-at-point was not called, or returned nil"))
      (dglsp-put "inline_after" (dglsp-text))
      (dglsp-put "inline_point" (1- (point)))
      ;; The candidates eglot had (its table caches the one response, so this sends no new request).
      (dglsp-put "inline_candidates" (vconcat (funcall (nth 2 capf) "" nil t))))))

(defun dglsp-code-action ()
  "M-x eglot-code-actions on the hole, answering \"Fill 1 hole\"."
  (with-current-buffer (dglsp-open "holes.py")
    (goto-char (point-min))
    (search-forward "...")
    (goto-char (match-beginning 0))
    (dglsp-put "holes_before" (dglsp-text))
    (dglsp-put "holes_point" (1- (point)))
    (dglsp-put "holes_region_bounds" (vconcat (mapcar (lambda (p) (and p (1- p))) (eglot--region-bounds))))
    (let (prompt titles default)
      (cl-letf (((symbol-function 'completing-read)
                 (lambda (question collection &rest args)
                   (setq prompt question
                         titles (mapcar #'car collection)
                         default (nth 4 args))
                   (or (cl-find-if (lambda (title) (string-match-p "Fill 1 hole\\'" title)) titles)
                       (error "No \"Fill 1 hole\" among the code actions %S" titles)))))
        ;; A key, not a mouse click, invoked the command: eglot then prompts in the minibuffer, not in a menu.
        (let ((last-nonmenu-event ?\r))
          (call-interactively #'eglot-code-actions)))
      (dglsp-put "actions_prompt" prompt)
      (dglsp-put "actions_titles" (vconcat titles))
      (dglsp-put "actions_default" default)
      ;; eglot ran the action synchronously: workspace/executeCommand has been answered, and the server's
      ;; workspace/applyEdit, which came before that answer, has been applied (or refused) already.
      (dglsp-put "holes_after" (dglsp-text)))))

(defun dglsp-write-events ()
  "eglot's events buffers, then the server's stderr, into `dglsp-events'.
By name, so that a server that died while eglot connected leaves them too."
  (with-temp-file dglsp-events
    (dolist (buffer (buffer-list))
      (when (string-match-p "\\`\\*EGLOT .*\\(events\\|stderr\\)\\*\\'" (buffer-name buffer))
        (insert "\n;;; " (buffer-name buffer) "\n")
        (insert-buffer-substring buffer)))))

(let ((status 0))
  (condition-case err
      (progn
        (dglsp-complete)
        (dglsp-code-action)
        (dglsp-put "stats" (jsonrpc-request dglsp-server :dglsp/stats (make-hash-table))))
    (error
     (setq status 1)
     (dglsp-put "error" (error-message-string err))
     (message "dglsp_session.el: %s" (error-message-string err))))
  (with-temp-file dglsp-out
    (insert (json-serialize dglsp-result :null-object nil :false-object :json-false)))
  (when dglsp-server
    (ignore-errors (eglot-shutdown dglsp-server nil 10 t)))
  (dglsp-write-events)
  (kill-emacs status))

;;; dglsp_session.el ends here
