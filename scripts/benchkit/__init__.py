"""The benchmark harness behind `scripts/bench`: it measures every LogSphere tool against a peer
on the same data in the same run and writes BENCHMARKS.md.

- `measure`: running processes and reading what they cost (wall clock, user+sys CPU of the
  process tree, peak RSS), and the cleanup stack that runs even when interrupted;
- `prepare`: what the run needs (Debian packages, a venv, the services, release binaries);
- `data`: the mixed loghub corpus and the records made from it, shared by all benchmarks;
- `kafka`: topics and consumer group progress (kafka-python);
- `report`: rows, sections and the Markdown page;
- one module per benchmark: `tail`, `ship`, `store`, `roll`, `watch`, `pipeline`;
- `main`: the command line and the order of the run.
"""
