//! The compiled plugin is cached on disk keyed by the component's hash.

use partnergate::PartnerGate;
use partnergate::runtime::Artifact;

#[tokio::test]
async fn second_start_loads_the_compiled_artifact_and_a_corrupt_one_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let first = PartnerGate::builder()
        .artifact_cache(dir.path())
        .build()
        .await
        .unwrap();
    let Artifact::Compiled(path) = first.artifact().clone() else {
        panic!("first start compiles: {:?}", first.artifact())
    };
    assert!(path.exists());

    let second = PartnerGate::builder()
        .artifact_cache(dir.path())
        .build()
        .await
        .unwrap();
    assert_eq!(second.artifact(), &Artifact::Cached(path.clone()));

    std::fs::write(&path, b"not a compiled component").unwrap();
    let third = PartnerGate::builder()
        .artifact_cache(dir.path())
        .build()
        .await
        .unwrap();
    assert_eq!(third.artifact(), &Artifact::Compiled(path.clone()));
    let fourth = PartnerGate::builder()
        .artifact_cache(dir.path())
        .build()
        .await
        .unwrap();
    assert_eq!(fourth.artifact(), &Artifact::Cached(path));
}
