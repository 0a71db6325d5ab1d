/** The page: renders useCats state and calls its actions; no model math here. */
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { BlendControls } from './components/BlendControls';
import { BreedPicker } from './components/BreedPicker';
import { ClassifyResult } from './components/ClassifyResult';
import { Dashboard } from './components/Dashboard';
import { GraphSwitch } from './components/GraphSwitch';
import { LoadStatus } from './components/LoadStatus';
import { TensorCanvas } from './components/TensorCanvas';
import { UploadArea } from './components/UploadArea';
import { useCats, type Graph } from './hooks/useCats';
import { UNFAMILIAR, verdictReason } from './lib/classify';
import { tensorToDataUrl } from './lib/canvas';
import type { Selection } from './lib/conditioning';
import type { PageConfig } from './lib/config';
import { fastStepCounts } from './lib/manifest';
import { randomSeed } from './lib/rng';
import { installTestHook } from './testHook';

const MAX_STEPS = 50;

export function App({ config }: { config: PageConfig }) {
  const cats = useCats(config);
  const { manifest, load, busy, setLive } = cats;
  const catsRef = useRef(cats);
  catsRef.current = cats;
  useEffect(() => { if (config.testHook) installTestHook(() => catsRef.current); }, [config.testHook]);

  const [breed, setBreed] = useState(0);
  const [blendOn, setBlendOn] = useState(false);
  const [blend, setBlend] = useState<number[]>([]);
  const [steps, setSteps] = useState<number | null>(null);
  const [guidance, setGuidance] = useState<number | null>(null);
  const [seed, setSeed] = useState(0);
  const [upload, setUpload] = useState<File | null>(null);
  const [strength, setStrength] = useState(0.6);
  const [graph, setGraph] = useState<Graph>('quality');
  const [fastSteps, setFastSteps] = useState<number | null>(null);
  const [live, setLiveOn] = useState(false);

  // Defaults come from the manifest once it arrives.
  useEffect(() => {
    if (!manifest) return;
    setSteps((s) => s ?? manifest.generator.defaults.num_inference_steps);
    setGuidance((g) => g ?? manifest.generator.defaults.guidance_scale);
    setFastSteps((s) => s ?? manifest.generator_fast?.defaults.num_inference_steps ?? null);
    setBlend((b) => (b.length === manifest.breeds.length ? b : manifest.breeds.map((_, i) => (i < 2 ? 0.5 : 0))));
  }, [manifest]);

  const selection: Selection = blendOn ? { kind: 'blend', weights: blend } : { kind: 'breed', breed };
  const ready = load.status === 'ready' && steps !== null && guidance !== null;
  const running = busy === 'generate' || busy === 'restyle';
  const fastCounts = manifest ? fastStepCounts(manifest) : [];
  const fast = graph === 'fast' && fastSteps !== null;

  // Live: every change of the settings goes to the hook's scheduler, which runs the newest when it may.
  const liveOn = live && ready && fastSteps !== null;
  useEffect(() => {
    if (!liveOn) setLive(null);
    else setLive({ selection: blendOn ? { kind: 'blend', weights: blend } : { kind: 'breed', breed }, steps: fastSteps, seed });
  }, [liveOn, blendOn, blend, breed, fastSteps, seed, setLive]);

  const chooseGraph = (g: Graph) => {
    setGraph(g);
    if (g === 'quality') setLiveOn(false); // Live runs the fast graph only
  };
  const chooseLive = (on: boolean) => {
    setLiveOn(on);
    if (on) setGraph('fast');
  };
  const generate = (s = seed) => {
    if (!ready) return;
    if (fast) void cats.generate({ graph: 'fast', selection, steps: fastSteps, seed: s });
    else void cats.generate({ selection, steps, guidance, seed: s });
  };
  const newNoise = () => {
    const s = randomSeed();
    setSeed(s);
    if (!live) generate(s); // Live regenerates on the seed change by itself
  };
  const onFile = useCallback((f: File) => {
    setUpload(f);
    void catsRef.current.classify(f);
  }, []);
  const restyle = () => {
    if (ready && upload) void cats.restyle({ selection, steps, guidance, seed, image: upload, strength });
  };

  const size = manifest?.generator.image_size ?? 64;
  const downloadUrl = useMemo(() => (cats.result ? tensorToDataUrl(cats.result.image, size) : null), [cats.result, size]);
  const shown = running ? cats.preview?.sample ?? null : cats.result?.image ?? cats.preview?.sample ?? null;
  const liveBusy = cats.live !== null && (cats.live.inFlight !== null || cats.live.pending);
  const progressText = running && cats.preview ? `step ${cats.preview.index + 1} / ${cats.preview.total}`
    : live ? `Live: ${liveBusy ? 'updating…' : 'up to date'}` : '';

  return (
    <div className="app">
      <header>
        <h1>tiny-cats</h1>
        <p className="tagline">Generate a cat of a chosen breed, or ask which breed your cat is — all in your browser.</p>
        {manifest ? (
          <p className="note" data-testid="weights-note">
            Bundled weights: <strong>{manifest.weights.name}</strong>
            {manifest.weights.trained_on ? ` — trained on ${manifest.weights.trained_on}` : ''}.
            {manifest.weights.name.toLowerCase().includes('synthcats')
              ? ' These are demo weights trained on SynthCats, procedurally drawn cats, not photos.' : ''}
          </p>
        ) : null}
      </header>
      <LoadStatus load={load} onRetry={cats.retry} />

      <main>
        <section className="panel generate" aria-labelledby="gen-h">
          <h2 id="gen-h">Generate</h2>
          {manifest ? (
            <BreedPicker breeds={manifest.breeds} thumbnails={cats.thumbnails} value={breed} onChange={setBreed} disabled={blendOn} />
          ) : <div className="breeds placeholder" />}
          {manifest ? (
            <BlendControls breeds={manifest.breeds} enabled={blendOn} weights={blend} onEnabled={setBlendOn} onChange={setBlend} />
          ) : null}
          <GraphSwitch graph={graph} onGraph={chooseGraph} live={live} onLive={chooseLive} fastCounts={fastCounts}
            qualitySteps={manifest?.generator.defaults.num_inference_steps ?? null} />
          <div className="controls">
            {fast ? (
              <fieldset className="segmented fast-steps">
                <legend>Steps <output data-testid="fast-steps-value">{fastSteps}</output></legend>
                {fastCounts.map((n) => (
                  <label key={n}>
                    <input type="radio" name="fast-steps" value={n} checked={fastSteps === n} onChange={() => setFastSteps(n)}
                      data-testid={`fast-steps-${n}`} />
                    <span>{n}</span>
                  </label>
                ))}
              </fieldset>
            ) : (
              <label>Steps <output data-testid="steps-value">{steps ?? ''}</output>
                <input type="range" min={1} max={MAX_STEPS} value={steps ?? 1} data-testid="steps"
                  onChange={(e) => setSteps(Number(e.target.value))} />
              </label>
            )}
            <label>Guidance <output>{fast ? 'baked in' : guidance?.toFixed(1) ?? ''}</output>
              <input type="range" min={1} max={10} step={0.1} value={fast ? manifest?.generator_fast?.guidance.baked_in ?? 1 : guidance ?? 1}
                disabled={fast} data-testid="guidance" onChange={(e) => setGuidance(Number(e.target.value))} />
            </label>
            <label>Seed
              <input type="number" min={0} max={4294967295} value={seed} data-testid="seed"
                onChange={(e) => setSeed(Math.max(0, Math.min(4294967295, Math.trunc(Number(e.target.value) || 0))))} />
            </label>
            <div className="buttons">
              <button type="button" onClick={() => generate()} disabled={!ready || busy !== null || live} data-testid="generate">Generate</button>
              <button type="button" onClick={newNoise} disabled={!ready || busy !== null}>New noise</button>
              <button type="button" onClick={cats.cancel} disabled={!running}>Stop</button>
            </div>
          </div>
          {fast && manifest?.generator_fast ? (
            <p className="note" data-testid="guidance-note">
              The fast graph takes no guidance: the teacher&apos;s scale {manifest.generator_fast.guidance.baked_in.toFixed(1)} is
              baked in.
            </p>
          ) : null}
          <div className="canvases">
            <TensorCanvas tensor={shown} size={size} label="Sample" testId="canvas-sample" />
            <TensorCanvas tensor={running ? cats.preview?.predX0 ?? null : cats.result?.image ?? null} size={size}
              label="Predicted clean image" testId="canvas-pred" />
          </div>
          <div className="run-status" aria-live="polite">
            <span data-testid="run-progress">{progressText}</span>
            {cats.runError ? <span className="error" role="alert" data-testid="run-error">{cats.runError}</span> : null}
            {downloadUrl && !running ? (
              <a className="button" href={downloadUrl} download={`tiny-cat-${cats.result?.kind}-${cats.result?.seed}.png`}
                data-testid="download">Download PNG</a>
            ) : null}
          </div>
        </section>

        <section className="panel photo" aria-labelledby="photo-h">
          <h2 id="photo-h">Your cat photo</h2>
          <UploadArea file={upload} onFile={onFile} />
          <ClassifyResult classifier={manifest?.classifier ?? undefined} result={cats.classification?.result ?? null}
            error={cats.classifyError} busy={busy === 'classify'} trainedOn={manifest?.weights.trained_on} />
          <div className="controls">
            <label>Restyle strength <output>{strength.toFixed(2)}</output>
              <input type="range" min={0} max={1} step={0.05} value={strength} data-testid="strength"
                onChange={(e) => setStrength(Number(e.target.value))} />
            </label>
            <button type="button" onClick={restyle} disabled={!ready || !upload || busy !== null || live} data-testid="restyle">
              Restyle into {blendOn ? 'the blend' : manifest?.breeds[breed] ?? 'a breed'}
            </button>
          </div>
          {graph === 'fast' ? (
            <p className="note" data-testid="restyle-note">
              {live ? 'Switch Live off to restyle. ' : ''}Restyle runs the quality graph ({steps} steps, guidance {guidance?.toFixed(1)}).
            </p>
          ) : null}
          {cats.classification?.result.verdict === UNFAMILIAR && manifest?.classifier ? (
            <p className="warning" role="status" data-testid="restyle-warning">
              This picture is unfamiliar to these weights; the restyle may not look like your cat.{' '}
              {verdictReason(cats.classification.result, manifest.classifier, manifest.weights.trained_on)}
            </p>
          ) : null}
        </section>

        <Dashboard load={load} stats={cats.stats} fastInfo={cats.fastInfo} fastMs={cats.fastMs} live={cats.live}
          hasFast={fastCounts.length > 0} />
      </main>
    </div>
  );
}
