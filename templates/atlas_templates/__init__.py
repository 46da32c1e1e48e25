"""Templates shipped with atlas-gen: the service templates and the workspace (copier) template."""
