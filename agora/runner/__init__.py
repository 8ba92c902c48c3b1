"""Running scenarios: the runner, its executors, the run store and the response cache."""
