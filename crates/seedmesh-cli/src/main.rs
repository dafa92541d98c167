//! `seedmesh`: render, sign and check a domain's seed records.

fn main() {}
