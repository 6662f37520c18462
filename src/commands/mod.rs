pub mod model;
pub mod profiles;
