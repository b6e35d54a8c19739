//! LogSphere: the shared library behind the six `ls-*` tools.
