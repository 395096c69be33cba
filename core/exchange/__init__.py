"""Exchange with spreadsheets: one importer for every upload (``xlsx_in``), one streaming
Excel writer (``xlsx_out``) and CSV (``csvout``) for every export."""
