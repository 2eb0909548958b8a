complete --keep-order --exclusive --command jobsweep --arguments "(COMPLETE=fish jobsweep -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
