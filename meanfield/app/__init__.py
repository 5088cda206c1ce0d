"""The application layer: the configuration schema and builders, `meanfield run`, run
directories and files, figures of runs, the validation report, the CLI and sweeps. Only this
package touches TOML, files, Dask or plotting state."""
