"""Files: HR extracts, snapshot files, plan and approval files, the run folder, the push journal,
CSV, workbooks and the quality report. Imports only ``recon.core`` (and ``recon.errors``)."""
