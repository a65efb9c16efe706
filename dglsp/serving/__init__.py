"""dglsp's engine served over HTTP by Ray Serve, for a team's shared GPU box (`dglsp serve-model`)."""
