"""Latent directions: find them (PCA, SeFa, k-means, attribute SVMs), cache them per model, and
look them up for the edits in a `LatentState`.

    from explorer.directions import DirectionSpec, DirectionLibrary, cached_direction_set
    s = cached_direction_set(model, DirectionSpec("pca", samples=100_000, components=64))
    library = DirectionLibrary([s])
    state = LatentState(seed=1, edits=(DirectionEdit("pca", 0, 2.0, 0, 4),))
    render_state(model, state, library)
"""

from explorer.directions.cache import DirectionCache, default_cache_root
from explorer.directions.compute import (DirectionSpec, cached_direction_set, compute_direction_set,
                                         direction_job)
from explorer.directions.directionset import DirectionSet, load_direction_set, save_direction_set
from explorer.directions.edits import ParsedEdit, edits_from_args, parse_edit, resolve_set
from explorer.directions.kmeans import centre, centre_state, fit_kmeans, near_centre, towards_centre
from explorer.directions.labels import LabelledLatents, read_label_csv
from explorer.directions.layers import (PRESETS, layer_presets, parse_layer_range, preset_rows,
                                        row_resolutions)
from explorer.directions.library import DirectionLibrary, cached_library
from explorer.directions.pca import fit_pca
from explorer.directions.sefa import fit_sefa, sefa_basis
from explorer.directions.strip import direction_strip
from explorer.directions.svm import fit_attributes, project_out

__all__ = ["DirectionCache", "DirectionLibrary", "DirectionSet", "DirectionSpec", "LabelledLatents",
           "PRESETS", "ParsedEdit", "cached_direction_set", "cached_library", "centre", "centre_state",
           "compute_direction_set", "default_cache_root", "direction_job", "direction_strip",
           "edits_from_args", "fit_attributes", "fit_kmeans", "fit_pca", "fit_sefa", "layer_presets",
           "load_direction_set", "near_centre", "parse_edit", "parse_layer_range", "preset_rows",
           "project_out", "read_label_csv", "resolve_set", "row_resolutions", "save_direction_set",
           "sefa_basis", "towards_centre"]
