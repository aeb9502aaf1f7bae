//! The Anticipation-RNN learns to reach pinned notes: after a short run it meets more pins when
//! it reads them than the same network with the pins hidden; a hard clamp meets them all; bar
//! positions follow 3/4 and 6/8; bad pins are errors, not panics; a seed gives the same tune.

mod common;

use burn::tensor::Device;
use muselab::data::PitchRange;
use muselab::models::ModelKind;
use muselab::models::anticipation::{self, AnticipationConfig, AnticipationRnn};
use muselab::training::RunConfig;

fn measure(values: &[(String, f64)], name: &str) -> f64 {
    values
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no {name} in {values:?}"))
        .1
}

#[test]
fn pins_are_met_more_often_when_the_model_reads_them() {
    let mut config = RunConfig::new(ModelKind::AnticipationRnn);
    config.max_pieces = Some(120);
    config.batch_size = 16;
    config.learning_rate = 0.005;
    for (name, value) in [
        ("hidden", "48"),
        ("layers", "1"),
        ("embedding", "12"),
        ("sequence", "32"),
    ] {
        config.hyperparameters.set(name, value).expect("valid");
    }
    let (mut session, _, _) = {
        let _rng = common::rng_lock();
        common::seeded_session(&mut config, "celtic")
    };
    let before = session.validate();
    common::train_steps(session.as_mut(), 800);
    let after = session.validate();
    let (read, hidden) = (
        measure(&after, "pins met, sampling"),
        measure(&after, "pins met, pins hidden"),
    );
    eprintln!(
        "pins met: {read:.3} reading them, {hidden:.3} hidden (before training {:.3})",
        measure(&before, "pins met, sampling")
    );
    assert!(
        read > hidden + 0.25,
        "pins met {read} reading them against {hidden} with them hidden"
    );
    assert!(read > measure(&before, "pins met, sampling") + 0.15);
}

fn tiny() -> (AnticipationRnn, PitchRange, Device) {
    let device = Device::flex();
    device.seed(5);
    let range = PitchRange { low: 60, high: 72 };
    let config = AnticipationConfig {
        hidden: 8,
        layers: 1,
        embedding: 4,
        ..Default::default()
    };
    (
        AnticipationRnn::new(&config, &range, &device),
        range,
        device,
    )
}

#[test]
fn a_clamp_meets_every_pin_and_a_seed_gives_the_same_tune() {
    let (model, range, device) = tiny();
    let pins =
        anticipation::parse_pins("0:C4,5:E4,9:rest,15:hold,31:G4", 32, &range).expect("valid pins");
    let positions = anticipation::regular_positions(32, 12);
    let write = |clamp: bool, seed: u64| {
        anticipation::fill(
            &model,
            &range,
            (
                std::slice::from_ref(&pins),
                std::slice::from_ref(&positions),
            ),
            (1.0, clamp),
            seed,
            &device,
        )
        .remove(0)
    };
    let clamped = write(true, 1);
    assert_eq!(muselab::measures::constraints::met(&clamped, &pins), (5, 5));
    assert_eq!(clamped[0], range.token(60));
    assert_eq!(clamped[9], muselab::data::REST);
    assert_eq!(write(false, 3), write(false, 3));
    assert_ne!(write(false, 3), write(false, 4));
}

#[test]
fn bad_pins_are_clear_errors() {
    let range = PitchRange { low: 55, high: 79 };
    let cases = [
        ("64:C4", "outside the melody"),
        ("3:C6", "outside the model's range"),
        ("3:C2", "outside the model's range"),
        ("3:X9", "not a pitch"),
        ("three:C4", "not a step number"),
        ("C4", "step:pitch"),
    ];
    for (text, message) in cases {
        let error = anticipation::parse_pins(text, 64, &range).expect_err(text);
        assert!(error.contains(message), "{text}: {error}");
    }
    let pins = anticipation::parse_pins("0:D5, 16:A4,32:rest,63:62", 64, &range).expect("valid");
    assert_eq!(pins[16], Some(range.token(69)));
    assert_eq!(pins[32], Some(muselab::data::REST));
    assert_eq!(pins[63], Some(range.token(62)));
    assert_eq!(pins.iter().flatten().count(), 4);
}

#[test]
fn bar_positions_follow_the_time_signature() {
    let mut score = muselab::music::Score::new("meters", 480);
    score.time_signatures = vec![muselab::music::TimeSignature {
        tick: 0,
        numerator: 3,
        denominator: 4,
    }];
    let waltz = muselab::data::encoding::metric_positions(&score, 26);
    assert_eq!(waltz[..13], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0]);
    assert_eq!(waltz[24], 0);
    // 6/8 from the third bar of 3/4 on (tick 2 × 1440): bars of 12 sixteenths too.
    score.time_signatures.push(muselab::music::TimeSignature {
        tick: 2 * 1440,
        numerator: 6,
        denominator: 8,
    });
    let jig = muselab::data::encoding::metric_positions(&score, 40);
    assert_eq!(jig[24..37], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0]);
    // 4/4 by default: bars of 16.
    score.time_signatures.clear();
    let common_time = muselab::data::encoding::metric_positions(&score, 17);
    assert_eq!((common_time[15], common_time[16]), (15, 0));
}

/// The view's worker answers every request, a panic inside it included, and keeps serving.
#[test]
fn the_fill_worker_turns_a_panic_into_an_error_and_serves_on() {
    use muselab::anticipation_worker::{FillReply, FillRequest};
    let worker = muselab::anticipation_worker::start(|| {});
    let next = || {
        worker
            .replies
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a reply")
    };
    worker.send(FillRequest::InjectPanic);
    assert!(matches!(next(), FillReply::Error(e) if e.contains("internal error")));
    worker.send(FillRequest::Load("/no/such/run".into()));
    assert!(matches!(next(), FillReply::Error(_)));
    worker.send(FillRequest::Fill {
        pins: vec![None; 8],
        positions: vec![0; 8],
        temperature: 1.0,
        clamp: false,
        seed: 1,
    });
    assert!(matches!(next(), FillReply::Error(e) if e.contains("choose an anticipation-rnn run")));
}
