"""The checklist's areas, one package each: its settings, its logic, the codes it emits (README: "Layout")."""
