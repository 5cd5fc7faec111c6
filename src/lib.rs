#![allow(clippy::result_large_err)]
//! sentinel-migrate: plan and apply the switch of a Microsoft Sentinel
//! workspace from the legacy, subscription-based Microsoft Defender for
//! Cloud connector to the tenant-based one, without duplicate incidents.
//!
//! Data flows one way: [`source`] reads exports into [`model`] resources;
//! [`catalog`] holds the migration knowledge from `rules/`; [`plan`] (pure)
//! decides what must change; [`render`] writes plans, diffs and scripts.
//! See `docs/ARCHITECTURE.md`.

pub mod api;
pub mod app;
pub mod catalog;
pub mod cli;
pub mod error;
pub mod exit;
pub mod kql;
pub mod model;
pub mod par;
pub mod plan;
pub mod render;
pub mod settings;
pub mod source;
pub mod time;
