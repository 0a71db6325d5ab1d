/**
 * The page: the settings' state, the share link in the address bar, and the layout. The hooks own the worker,
 * the runs and the answers; the components render them. No model math here.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { AboutPanel } from './components/AboutPanel';
import { AdvancedSettings, type SettingsValues } from './components/AdvancedSettings';
import { BlendControls } from './components/BlendControls';
import { BreedPicker } from './components/BreedPicker';
import { GraphSwitch } from './components/GraphSwitch';
import { LoadStatus } from './components/LoadStatus';
import { PhotoPanel } from './components/PhotoPanel';
import { ResultArea } from './components/ResultArea';
import { useClassification } from './hooks/useClassification';
import { useGeneration } from './hooks/useGeneration';
import { useModelWorker } from './hooks/useModelWorker';
import { useThumbnails } from './hooks/useThumbnails';
import { isSynthcats } from './lib/classify';
import type { Selection } from './lib/conditioning';
import type { PageConfig } from './lib/config';
import { defaultAutoguidance, fastStepCounts, type Manifest } from './lib/manifest';
import { randomSeed } from './lib/rng';
import { parseShare, shareQuery, SHARE_KEYS, type Mode, type ShareSettings } from './lib/share';
import { installTestHook } from './testHook';
import { guideText } from './ui/guide';

/** The download the load makes: the chosen generator variant and the classifier's default. */
function loadBytes(m: Manifest | null, variant: string | undefined): number | null {
  if (!m) return null;
  const gen = m.generator.variants[variant ?? m.generator.default_variant] ?? m.generator.variants[m.generator.default_variant];
  const cls = m.classifier ? m.classifier.variants[m.classifier.default_variant] : undefined;
  return (gen?.bytes ?? 0) + (cls?.bytes ?? 0);
}

/** The weights in one plain sentence, the only place the page says what they were trained on. */
function WeightsNote({ manifest }: { manifest: Manifest }) {
  const w = manifest.weights;
  return (
    <p className="note" data-testid="weights-note">
      {isSynthcats(w.trained_on)
        ? 'These are small demo weights, trained on SynthCats: simple drawn cats of the 12 breeds, never photos. '
          + 'They draw in that style, and a photo of a real cat looks unfamiliar to them.'
        : `Weights: ${w.name}${w.trained_on ? `, trained on ${w.trained_on}` : ''}.`}
    </p>
  );
}

export function App({ config }: { config: PageConfig }) {
  const worker = useModelWorker(config);
  const generation = useGeneration(worker);
  const classification = useClassification(worker);
  const thumbnails = useThumbnails(worker, config);
  const { manifest, load } = worker;
  const { setLive } = generation;
  const hooksRef = useRef({ worker, generation, classification });
  hooksRef.current = { worker, generation, classification };
  useEffect(() => { if (config.testHook) installTestHook(() => hooksRef.current); }, [config.testHook]);

  const [breed, setBreed] = useState(0);
  const [blendOn, setBlendOn] = useState(false);
  const [blend, setBlend] = useState<number[]>([]);
  const [values, setValues] = useState<SettingsValues | null>(null);
  const [upload, setUpload] = useState<File | null>(null);
  const [strength, setStrength] = useState(0.6);
  const [mode, setMode] = useState<Mode>('quality');
  const [live, setLiveOn] = useState(false);
  const [notices, setNotices] = useState<string[]>([]);
  const [autoRun, setAutoRun] = useState(false);

  // Defaults from the manifest, then what a share link in the address sets (once, when the manifest first arrives).
  const shareRead = useRef(false);
  useEffect(() => {
    if (!manifest) return;
    const d = manifest.generator.defaults;
    const fastCounts = fastStepCounts(manifest);
    setBlend((b) => (b.length === manifest.breeds.length ? b : manifest.breeds.map((_, i) => (i < 2 ? 0.5 : 0))));
    setValues((v) => v ?? {
      steps: d.num_inference_steps, guidance: d.guidance_scale, autoguidance: defaultAutoguidance(manifest), seed: 0, count: 1,
      fastSteps: manifest.generator_fast?.defaults.num_inference_steps ?? null,
    });
    if (shareRead.current) return;
    shareRead.current = true;
    const q = new URLSearchParams(window.location.search);
    if (!SHARE_KEYS.some((k) => q.has(k))) return;
    const { values: s, notices: n } = parseShare(window.location.search, manifest.breeds, fastCounts,
      Boolean(manifest.generator.guide));
    setNotices(n);
    if (s.selection?.kind === 'breed') setBreed(s.selection.breed);
    if (s.selection?.kind === 'blend') setBlend(s.selection.weights);
    if (s.selection) setBlendOn(s.selection.kind === 'blend');
    if (s.mode) setMode(s.mode);
    setValues((v) => v && {
      ...v,
      seed: s.seed ?? v.seed,
      guidance: s.guidance ?? v.guidance,
      autoguidance: s.autoguidance ?? v.autoguidance,
      steps: s.mode !== 'fast' && s.steps !== undefined ? s.steps : v.steps,
      fastSteps: s.mode === 'fast' && s.steps !== undefined ? s.steps : v.fastSteps,
    });
    setAutoRun(true); // a link opens on its cat
  }, [manifest]);

  const selection: Selection = blendOn ? { kind: 'blend', weights: blend } : { kind: 'breed', breed };
  const ready = load.status === 'ready' && values !== null;
  const genBusy = generation.busy !== null;
  const fastCounts = manifest ? fastStepCounts(manifest) : [];
  const fast = mode === 'fast' && values?.fastSteps != null;
  const change = useCallback((v: Partial<SettingsValues>) => setValues((old) => old && { ...old, ...v }), []);

  // Live: every change of the settings goes to the generation hook's scheduler, which runs the newest when it may.
  const liveOn = live && ready && values?.fastSteps != null;
  const liveSteps = values?.fastSteps ?? null;
  const seed = values?.seed ?? 0;
  useEffect(() => {
    if (!liveOn || liveSteps === null) setLive(null);
    else setLive({ selection: blendOn ? { kind: 'blend', weights: blend } : { kind: 'breed', breed }, steps: liveSteps, seed });
  }, [liveOn, blendOn, blend, breed, liveSteps, seed, setLive]);

  const chooseMode = (m: Mode) => {
    setMode(m);
    if (m === 'quality') setLiveOn(false); // Live runs the fast graph only
  };
  const chooseLive = (on: boolean) => {
    setLiveOn(on);
    if (on) setMode('fast');
  };
  const generate = (s = seed) => {
    if (!ready || !values) return;
    if (fast && values.fastSteps !== null) void generation.generate({ graph: 'fast', selection, steps: values.fastSteps, seed: s }, values.count);
    else {
      const { steps, guidance, autoguidance, count } = values;
      void generation.generate({ selection, steps, guidance, autoguidance, seed: s }, count);
    }
  };
  useEffect(() => {
    if (!autoRun || !ready) return;
    setAutoRun(false);
    generate(); // the settings the link set are in this render's state
  }, [autoRun, ready]); // once, when the link was read and the models are ready
  const newSeed = () => {
    const s = randomSeed();
    change({ seed: s });
    if (!live) generate(s); // Live regenerates on the seed change by itself
  };
  const onFile = useCallback((f: File) => {
    setUpload(f);
    hooksRef.current.generation.clearRestyle(); // the last restyle was of another photo
    void hooksRef.current.classification.classify(f);
  }, []);
  const restyle = () => {
    if (ready && values && upload) {
      const { steps, guidance, autoguidance } = values;
      void generation.restyle({ selection, steps, guidance, autoguidance, seed, image: upload, strength });
    }
  };

  // The address bar names the cat on screen: breed or blend, seed, mode, steps, guidance, guide (src/lib/share.ts).
  const shown = generation.images[0];
  const breeds = manifest?.breeds ?? [];
  const shareUrl = useMemo(() => {
    if (!shown) return null;
    const u = new URL(window.location.href);
    u.search = shareQuery(shown.settings as ShareSettings, breeds, u.search);
    return u.href;
  }, [shown, breeds]);
  useEffect(() => {
    if (!shareUrl || shareUrl === window.location.href) return undefined;
    const t = setTimeout(() => window.history.replaceState(null, '', shareUrl), 250); // at most a few writes a second
    return () => clearTimeout(t);
  }, [shareUrl]);

  const target = blendOn ? 'the blend' : breeds[breed] ?? 'a breed';
  const hasGuide = Boolean(manifest?.generator.guide);
  const restyleNote = live ? 'Switch Live off to restyle.'
    : mode === 'fast' && values ? `Restyle uses quality mode (${values.steps} steps, guidance ${values.guidance.toFixed(1)}`
      + `${hasGuide ? `, guide ${guideText(values.autoguidance)}` : ''}).` : null;
  const variants = manifest ? Object.keys(manifest.generator.variants) : [];

  return (
    <div className="app">
      <header>
        <h1>tiny-cats</h1>
        <p className="tagline">Draw a cat of a chosen breed, or ask which breed your cat is — all in your browser.</p>
        {manifest ? <WeightsNote manifest={manifest} /> : null}
      </header>
      {notices.length > 0 ? (
        <div className="notice" role="status" data-testid="share-notice">
          {notices.map((n) => <p key={n}>{n}</p>)}
        </div>
      ) : null}
      <LoadStatus load={load} onRetry={worker.retry} totalBytes={loadBytes(manifest, worker.variant)} />

      <main>
        <section className="panel generate" aria-labelledby="gen-h">
          <h2 id="gen-h" className="visually-hidden">Generate</h2>
          <div className="gen-grid">
            <div className="gen-controls">
              {manifest ? (
                <BreedPicker breeds={manifest.breeds} thumbnails={thumbnails} value={breed} onChange={setBreed} disabled={blendOn} />
              ) : <div className="breeds placeholder" />}
              {manifest ? (
                <BlendControls breeds={manifest.breeds} enabled={blendOn} weights={blend} onEnabled={setBlendOn} onChange={setBlend} />
              ) : null}
              <GraphSwitch graph={mode} onGraph={chooseMode} live={live} onLive={chooseLive} fastCounts={fastCounts}
                qualitySteps={manifest?.generator.defaults.num_inference_steps ?? null} />
              <div className="buttons main-actions">
                <button type="button" className="primary" onClick={() => generate()} disabled={!ready || genBusy || live}
                  data-testid="generate">Generate</button>
                {generation.busy !== null ? (
                  <button type="button" className="secondary" onClick={generation.cancel} data-testid="stop">Stop</button>
                ) : null}
              </div>
              {values ? (
                <AdvancedSettings mode={fast ? 'fast' : 'quality'} values={values} onChange={change} fastCounts={fastCounts}
                  bakedIn={manifest?.generator_fast?.guidance.baked_in ?? null} hasGuide={hasGuide}
                  onNewSeed={newSeed} disabled={!ready || genBusy}
                  variants={variants} variant={worker.variant ?? manifest?.generator.default_variant ?? ''}
                  onVariant={worker.setVariant} />
              ) : null}
            </div>
            <ResultArea generation={generation} size={manifest?.generator.image_size ?? 64} count={values?.count ?? 1}
              live={live} breeds={breeds} shareUrl={shareUrl} />
          </div>
        </section>

        <PhotoPanel manifest={manifest} upload={upload} onFile={onFile} classification={classification} generation={generation}
          loading={load.status === 'loading'} strength={strength} onStrength={setStrength}
          canRestyle={ready && upload !== null && !genBusy && !live} onRestyle={restyle} target={target} restyleNote={restyleNote} />

        <AboutPanel manifest={manifest} load={load} generation={generation} classification={classification.classification}
          hasFast={fastCounts.length > 0} />
      </main>
    </div>
  );
}
