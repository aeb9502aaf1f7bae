//! A tiny General MIDI SoundFont written for the tests, so that they do not depend on the banks
//! a machine has installed: program 0 plays a looped sine, program 73 a looped square, both
//! pitched at A4 = 441 Hz (a 100-sample period at 44.1 kHz).

fn chunk(id: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = id.to_vec();
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn list(kind: &[u8; 4], chunks: &[Vec<u8>]) -> Vec<u8> {
    let mut body = kind.to_vec();
    for c in chunks {
        body.extend_from_slice(c);
    }
    chunk(b"LIST", &body)
}

fn name20(name: &str) -> Vec<u8> {
    let mut out = name.as_bytes().to_vec();
    out.resize(20, 0);
    out
}

const PERIOD: usize = 100;
const LENGTH: usize = 2000;
const PAD: usize = 46;

/// The bytes of the SoundFont.
pub fn tiny_soundfont() -> Vec<u8> {
    // Sample data: a sine, then a square, each followed by the 46 zero samples SF2 asks for.
    let mut samples: Vec<i16> = Vec::new();
    let mut headers = Vec::new();
    for (name, wave) in [("sine", 0), ("square", 1)] {
        let start = samples.len() as u32;
        for i in 0..LENGTH {
            let phase = (i % PERIOD) as f32 / PERIOD as f32;
            let v = if wave == 0 {
                (phase * std::f32::consts::TAU).sin()
            } else if phase < 0.5 {
                1.0
            } else {
                -1.0
            };
            samples.push((v * 12000.0) as i16);
        }
        samples.extend(std::iter::repeat_n(0, PAD));
        let mut h = name20(name);
        h.extend_from_slice(&start.to_le_bytes()); // start
        h.extend_from_slice(&(start + LENGTH as u32).to_le_bytes()); // end
        h.extend_from_slice(&(start + PERIOD as u32).to_le_bytes()); // loop start
        h.extend_from_slice(&(start + (LENGTH - PERIOD) as u32).to_le_bytes()); // loop end
        h.extend_from_slice(&44_100u32.to_le_bytes());
        h.push(69); // original pitch
        h.push(0); // pitch correction
        h.extend_from_slice(&0u16.to_le_bytes()); // link
        h.extend_from_slice(&1u16.to_le_bytes()); // mono
        headers.push(h);
    }
    let mut eos = name20("EOS");
    eos.resize(46, 0);
    headers.push(eos);
    let smpl: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();

    let gen_record = |op: u16, amount: u16| {
        let mut g = op.to_le_bytes().to_vec();
        g.extend_from_slice(&amount.to_le_bytes());
        g
    };
    // Presets: program 0 → instrument 0 (sine), program 73 → instrument 1 (square).
    let mut phdr = Vec::new();
    for (i, (name, program)) in [("Sine", 0u16), ("Square", 73u16)].iter().enumerate() {
        phdr.extend(name20(name));
        phdr.extend_from_slice(&program.to_le_bytes());
        phdr.extend_from_slice(&0u16.to_le_bytes()); // bank
        phdr.extend_from_slice(&(i as u16).to_le_bytes()); // bag index
        phdr.extend_from_slice(&[0; 12]);
    }
    phdr.extend(name20("EOP"));
    phdr.extend_from_slice(&0u16.to_le_bytes());
    phdr.extend_from_slice(&0u16.to_le_bytes());
    phdr.extend_from_slice(&2u16.to_le_bytes());
    phdr.extend_from_slice(&[0; 12]);
    let bags = |n: u16| -> Vec<u8> {
        (0..=n)
            .flat_map(|i| {
                let mut b = i.to_le_bytes().to_vec();
                b.extend_from_slice(&0u16.to_le_bytes());
                b
            })
            .collect()
    };
    let pgen: Vec<u8> = [gen_record(41, 0), gen_record(41, 1), gen_record(0, 0)].concat();
    let mut inst = Vec::new();
    for (i, name) in ["SineInst", "SquareInst"].iter().enumerate() {
        inst.extend(name20(name));
        inst.extend_from_slice(&(i as u16).to_le_bytes());
    }
    inst.extend(name20("EOI"));
    inst.extend_from_slice(&2u16.to_le_bytes());
    // Each instrument zone: loop continuously (sampleModes 54 = 1), then its sample (53).
    let mut igen = Vec::new();
    for sample in 0..2u16 {
        igen.extend(gen_record(54, 1));
        igen.extend(gen_record(53, sample));
    }
    igen.extend(gen_record(0, 0));
    let ibag: Vec<u8> = (0..=2u16)
        .flat_map(|i| {
            let mut b = (i * 2).to_le_bytes().to_vec();
            b.extend_from_slice(&0u16.to_le_bytes());
            b
        })
        .collect();
    let pdta = list(
        b"pdta",
        &[
            chunk(b"phdr", &phdr),
            chunk(b"pbag", &bags(2)),
            chunk(b"pmod", &[0; 10]),
            chunk(b"pgen", &pgen),
            chunk(b"inst", &inst),
            chunk(b"ibag", &ibag),
            chunk(b"imod", &[0; 10]),
            chunk(b"igen", &igen),
            chunk(b"shdr", &headers.concat()),
        ],
    );
    let info = list(
        b"INFO",
        &[
            chunk(b"ifil", &[2, 0, 1, 0]),
            chunk(b"isng", b"EMU8000\0"),
            chunk(b"INAM", b"tiny\0\0"),
        ],
    );
    let sdta = list(b"sdta", &[chunk(b"smpl", &smpl)]);
    let mut body = b"sfbk".to_vec();
    body.extend(info);
    body.extend(sdta);
    body.extend(pdta);
    chunk(b"RIFF", &body)
}

/// Writes the tiny SoundFont into `dir` and returns its path.
pub fn write_tiny_soundfont(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("tiny.sf2");
    std::fs::write(&path, tiny_soundfont()).expect("write tiny.sf2");
    path
}
