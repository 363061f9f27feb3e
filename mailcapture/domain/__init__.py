"""Pure domain rules shared by every layer: periods, formulas, working days, authority."""
