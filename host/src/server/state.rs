//! What every handler of the HTTP API shares.

use crate::gate::PartnerGate;
use crate::oidc::SignInService;

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) gate: PartnerGate,
    pub(crate) token: Option<String>,
    pub(crate) sign_in: Option<std::sync::Arc<SignInService>>,
    /// The organization-users page, when served.
    pub(crate) page: Option<super::page::SharedPage>,
}
