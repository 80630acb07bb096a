//! Integration tests of the claude-accounts library, one module per area.

mod jsonfile;
