//! `shipgate github-action`. (Filled in next.)
