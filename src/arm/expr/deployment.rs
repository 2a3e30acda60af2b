//! Deployment functions: what the deployment runs in. Values the context lacks
//! (no `--subscription-id`, ...) are symbols of the deployment scope (see
//! [`super::eval::Scope`]), each saying which flag supplies it.

use super::ast::ExprSpan;
use super::eval::{Dispatch, Evaluator, Fault};
use crate::value::{Map, TextBuilder, Value};

pub(super) const SIGS: &[(&str, usize, usize)] = &[
    ("deployer", 0, 0),
    ("deployment", 0, 0),
    ("environment", 0, 0),
    ("managementgroup", 0, 1),
    ("resourcegroup", 0, 0),
    ("subscription", 0, 0),
    ("tenant", 0, 0),
];

/// `prefix` + a string or symbolic value; an unknown stays unknown.
pub(crate) fn prefixed(prefix: &str, v: &Value) -> Value {
    match v.as_str2() {
        Some(s) => {
            let mut b = TextBuilder::default();
            b.push_str(prefix);
            b.push(s);
            b.finish()
        }
        None => v.clone(),
    }
}

fn obj(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<Map>(),
    )
}

pub(super) fn call(
    ev: &Evaluator<'_, '_>,
    name: &str,
    _f: &str,
    args: Vec<Value>,
    _span: ExprSpan,
) -> Result<Dispatch, Fault> {
    let s = &ev.frame.scope;
    let sub = s.subscription_id.clone();
    let sub_path = prefixed("/subscriptions/", &sub);
    let out = match name {
        "subscription" => obj(vec![
            ("id", sub_path),
            ("subscriptionId", sub),
            ("tenantId", s.tenant_id.clone()),
            (
                "displayName",
                Value::unknown("the subscription's display name is read from Azure"),
            ),
        ]),
        "resourcegroup" => {
            let rg = s.resource_group.clone();
            let id = super::resource::rg_id(s).unwrap_or_else(|u| u);
            obj(vec![
                ("id", id),
                ("name", rg),
                (
                    "type",
                    Value::String("Microsoft.Resources/resourceGroups".into()),
                ),
                ("location", s.resource_group_location.clone()),
                ("managedBy", Value::unknown("read from Azure")),
                (
                    "tags",
                    Value::unknown("the resource group's tags are read from Azure"),
                ),
                (
                    "properties",
                    obj(vec![(
                        "provisioningState",
                        Value::String("Succeeded".into()),
                    )]),
                ),
            ])
        }
        "tenant" => obj(vec![
            ("tenantId", s.tenant_id.clone()),
            ("countryCode", Value::unknown("read from Azure")),
            ("displayName", Value::unknown("read from Azure")),
        ]),
        "deployer" => obj(vec![
            ("objectId", s.deployer_object_id.clone()),
            ("tenantId", s.tenant_id.clone()),
            ("userPrincipalName", Value::unknown("read from Azure")),
        ]),
        "deployment" => obj(vec![
            ("name", s.deployment_name.clone()),
            (
                "properties",
                obj(vec![(
                    "templateLink",
                    Value::unknown("the template link is known when deploying"),
                )]),
            ),
            (
                "location",
                Value::unknown("the deployment location is chosen when deploying"),
            ),
        ]),
        "managementgroup" => Value::unknown("management group deployments are not evaluated"),
        "environment" => environment(),
        _ => return Ok(Dispatch::Next(args)),
    };
    Ok(Dispatch::Done(out))
}

/// `environment()` for Azure public cloud: cmek-arm targets public Azure unless told otherwise.
fn environment() -> Value {
    let s = |x: &str| Value::String(x.to_string());
    obj(vec![
        ("name", s("AzureCloud")),
        ("gallery", s("https://gallery.azure.com/")),
        ("graph", s("https://graph.windows.net/")),
        ("portal", s("https://portal.azure.com")),
        ("graphAudience", s("https://graph.windows.net/")),
        ("activeDirectoryDataLake", s("https://datalake.azure.net/")),
        ("batch", s("https://batch.core.windows.net/")),
        ("media", s("https://rest.media.azure.net")),
        ("sqlManagement", s("https://management.core.windows.net:8443/")),
        ("vmImageAliasDoc", s("https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/quickstart-templates/aliases.json")),
        ("resourceManager", s("https://management.azure.com/")),
        ("authentication", obj(vec![
            ("loginEndpoint", s("https://login.microsoftonline.com/")),
            ("audiences", Value::Array(vec![s("https://management.core.windows.net/"), s("https://management.azure.com/")])),
            ("tenant", s("common")),
            ("identityProvider", s("AAD")),
        ])),
        ("suffixes", obj(vec![
            ("acrLoginServer", s(".azurecr.io")),
            ("azureDatalakeAnalyticsCatalogAndJob", s("azuredatalakeanalytics.net")),
            ("azureDatalakeStoreFileSystem", s("azuredatalakestore.net")),
            ("azureFrontDoorEndpointSuffix", s("azurefd.net")),
            ("keyvaultDns", s(".vault.azure.net")),
            ("sqlServerHostname", s(".database.windows.net")),
            ("storage", s("core.windows.net")),
        ])),
    ])
}
