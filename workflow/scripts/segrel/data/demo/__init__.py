"""The embedded demo's datasets: procedural street scenes (scenes), rendered in every weather
(weather), written in the real datasets' on-disk formats (writers)."""
