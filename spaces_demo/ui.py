"""The demo's layout: the result first, settings under "Advanced", developer facts under "About".

At 1280 x 900 the Generate tab shows the breed choice, the Generate button and the whole result on
the first screen; at a phone's 390 px the columns stack and the breed pictures wrap. The settings'
sliders, shared by the tabs, are controls.py's. Page-load events apply a share link's settings
(share.py) and fill in the breed pictures once drawn (thumbs.py).
"""

from __future__ import annotations

import controls
import gradio as gr
import share
from backends import Backend
from checks import LIMITS, check_choice, choices_text
from guard import DemoBlocks
from handlers import Handlers, new_seed, pick_breed
from sources import Sources
from thumbs import Thumbnails

from cats.breeds import BREEDS
from cats.sampling import MODES, SAMPLERS

CSS = """
#breed-picker, #breed-picker .gallery-container, #breed-picker .grid-wrap {
    height: auto !important; max-height: none !important; min-height: 0 !important; overflow: visible !important; }
#breed-picker .grid-container { grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)) !important;
                                grid-auto-rows: auto !important; padding-top: 0 !important; }
#breed-picker img { image-rendering: pixelated; }
#result { min-height: 420px; }
@media (max-width: 640px) { #result { min-height: 0; } }
.result-grid { display: flex; flex-wrap: wrap; gap: 8px; }
.result figure { margin: 0; text-align: center; max-width: 100%; }
.result img { image-rendering: pixelated; max-width: 100%; height: auto; aspect-ratio: 1 / 1; display: block; }
.result figcaption, .result-note { font-size: 0.9em; opacity: 0.8; margin: 2px 0; }
.verdict-headline { margin: 0 0 4px; }
.bar-row { display: flex; align-items: center; gap: 8px; margin: 4px 0; }
.bar-name { width: 11em; }
.bar-p { width: 3em; text-align: right; }
.bar { flex: 1; height: 12px; background: rgba(128, 128, 128, 0.15); border-radius: 6px; overflow: hidden; }
.bar span { display: block; height: 100%; background: #22a559; }
.verdict.unreliable .bar span { background: #9a9a9a; }
.verdict.unreliable .bar-name, .verdict.unreliable .bar-p { opacity: 0.7; }
.picture-in img { width: 100%; height: 100%; object-fit: contain; }
.bars-title { font-size: 0.9em; opacity: 0.8; margin: 10px 0 2px; }
"""
INTRO = ("# tiny-cats\nPick a breed and draw a cat, ask which breed a cat drawing shows, blend breeds or restyle "
         "your own cat. The demo weights learned from simple drawn cats, not from photos.")


def about(sources: Sources, backends) -> str:
    """The About panel: the weights, what they learned from, the engines; developer words live here."""
    facts = next(iter(backends.values())).facts
    lines = [f"**Weights:** {sources.model_label}.",
             f"**Learned from:** {facts.trained_on or 'not recorded in the weights'}.",
             f"**Engines:** {', '.join(backends)} (choose one under Advanced on the Generate tab). "
             "The same seed starts from the same noise on every engine and in the web client, so a "
             "link gives the same cat in both, within the export's small numeric differences.",
             f"**ONNX graphs:** {sources.onnx_note}"]
    return "\n\n".join(lines)


def _result_column():
    """The right-hand column of the Blend and Restyle tabs -> (result HTML, status line, download)."""
    with gr.Column(min_width=300):
        return gr.HTML(), gr.Markdown(), gr.File(label="Download PNG")


def build_ui(h: Handlers, sources: Sources, cache_ttl: int) -> gr.Blocks:
    """Lay out the UI over the handlers' backends and start drawing the breed pictures."""
    backends: dict[str, Backend] = h.backends
    default = next(iter(backends))
    facts = backends[default].facts
    thumbs = Thumbnails(backends[default])
    kw = controls.kwargs(facts)

    def on_mode(mode):
        return controls.mode_updates(facts, check_choice("mode", mode, MODES))

    ttl = cache_ttl
    with DemoBlocks(title="tiny-cats", delete_cache=(max(1, ttl // 4), ttl)) as demo:
        gr.Markdown(INTRO)
        notice = gr.Markdown(visible=False, elem_id="share-notice")
        with gr.Tabs() as tabs:
            with gr.Tab("Generate", id="generate"):
                with gr.Row():
                    with gr.Column(scale=5, min_width=300):
                        picker_note = gr.Markdown("**Pick a breed** (its picture is being drawn…)",
                                                  elem_id="picker-note")
                        picker = gr.Gallery(show_label=False, columns=6, height="auto", allow_preview=False,
                                            format="png", elem_id="breed-picker", buttons=[])
                        breed = gr.Dropdown(list(BREEDS), value=BREEDS[0], label="Breed", elem_id="breed")
                        mode = gr.Radio(["quality", "fast"], value="quality", label="Mode", visible=facts.has_fast,
                                        info=f"fast: {choices_text(facts.fast_steps)} steps, less detail" if facts.has_fast else None,
                                        elem_id="mode")
                        go = gr.Button("Generate", variant="primary", elem_id="generate-btn")
                        with gr.Accordion("Advanced", open=False):
                            steps = gr.Slider(**kw["steps"], elem_id="steps")
                            fast_steps = gr.Radio(list(facts.fast_steps), value=facts.fast_default, label="Steps",
                                                  visible=False, elem_id="fast-steps")
                            guidance = gr.Slider(**kw["guidance"], elem_id="guidance")
                            guide = gr.Slider(**kw["guide"], elem_id="guide")
                            sampler = gr.Radio(list(SAMPLERS), value=SAMPLERS[0], label="Sampler")
                            with gr.Row():
                                seed = gr.Number(**kw["seed"], elem_id="seed", min_width=120)
                                gr.Button("New noise", size="sm", min_width=80).click(
                                    new_seed, None, seed, api_name="new_noise")
                            num_images = gr.Slider(LIMITS.num_images[0], LIMITS.num_images[1], step=1, value=1,
                                                   label="Number of images")
                            backend = gr.Radio(list(backends), value=default, label="Engine (every tab)",
                                               info="same seed, same starting noise on every engine")
                            backend.input_name = "backend"  # what refusals call it: the API's parameter
                    with gr.Column(scale=7, min_width=300):
                        result = gr.HTML(elem_id="result")
                        status = gr.Markdown(elem_id="status")
                        files = gr.File(label="Download PNG", file_count="multiple")
                picker.select(pick_breed, None, breed, api_visibility="private")
                mode.input(on_mode, mode, [steps, fast_steps, guidance, guide, sampler], api_visibility="private",
                           preprocess=False)
                fast_steps.input(lambda n: n, fast_steps, steps, api_visibility="private")
                # guide last: an API call from before it existed still lines up (gradio_client fills in its default)
                go.click(h.generate, [breed, steps, guidance, sampler, seed, num_images, backend, mode, guide],
                         [result, status, files], api_name="generate", preprocess=False)

            with gr.Tab("Classify", id="classify"):
                with gr.Row():
                    with gr.Column(min_width=300):
                        photo = gr.Image(sources=["upload", "clipboard", "webcam"], type="filepath",
                                         label="A cat picture (upload, paste or webcam)", height=320,
                                         elem_classes="picture-in")
                        photo.input_name = "photo"  # what refusals call it (handlers.classify too)
                        classify_btn = gr.Button("Classify", variant="primary", elem_id="classify-btn")
                    with gr.Column(min_width=300):
                        verdict = gr.HTML(elem_id="verdict")
                        with gr.Accordion("Details", open=False):
                            details = gr.Markdown()
                            probs = gr.JSON(label="All probabilities")
                classify_btn.click(h.classify, [photo, backend], [verdict, details, probs],
                                   api_name="classify", preprocess=False)

            with gr.Tab("Blend", id="blend"):
                gr.Markdown("Mix up to three breeds; the weights are scaled to add up to 1. Leave breed C empty "
                            "to mix two.")
                blend_inputs = []
                with gr.Row():
                    for slot, (name, weight) in zip("ABC", [(BREEDS[1], 0.5), (BREEDS[11], 0.5), (None, 0.0)]):
                        with gr.Column(min_width=160):
                            blend_inputs += [gr.Dropdown(list(BREEDS), value=name, label=f"Breed {slot}",
                                                         elem_id=f"blend-breed-{slot.lower()}"),
                                             gr.Slider(*LIMITS.weight, step=0.05, value=weight, label=f"Weight {slot}",
                                                       elem_id=f"blend-weight-{slot.lower()}")]
                with gr.Row():
                    with gr.Column(min_width=300):
                        b_steps, b_guidance, b_guide, b_seed = controls.advanced(kw)
                        blend_btn = gr.Button("Blend", variant="primary")
                    blend_result, blend_status, blend_file = _result_column()
                blend_btn.click(h.blend, blend_inputs + [b_steps, b_guidance, b_seed, backend, b_guide],
                                [blend_result, blend_status, blend_file], api_name="blend", preprocess=False)

            with gr.Tab("Restyle", id="restyle"):
                gr.Markdown("Redraw your cat as another breed. Strength 0 keeps your picture; 1 draws a new cat.")
                with gr.Row():
                    with gr.Column(min_width=300):
                        r_photo = gr.Image(sources=["upload", "clipboard", "webcam"], type="filepath",
                                           label="Your cat", height=256, elem_classes="picture-in")
                        r_photo.input_name = "your cat"
                        r_breed = gr.Dropdown(list(BREEDS), value=BREEDS[10], label="Breed")
                        r_strength = gr.Slider(*LIMITS.strength, step=0.05, value=0.6, label="Strength")
                        r_steps, r_guidance, r_guide, r_seed = controls.advanced(kw)
                        restyle_btn = gr.Button("Restyle", variant="primary")
                    r_result, r_status, r_file = _result_column()
                restyle_btn.click(h.restyle,
                                  [r_photo, r_breed, r_strength, r_steps, r_guidance, r_seed, backend, r_guide],
                                  [r_result, r_status, r_file], api_name="restyle", preprocess=False)

            with gr.Tab("Compare engines", id="compare"):
                gr.Markdown("Every engine draws the same breed from the same seed and starting noise, at the same "
                            "settings.")
                with gr.Row():
                    c_breed = gr.Dropdown(list(BREEDS), value=BREEDS[0], label="Breed")
                    c_steps, c_guidance = gr.Slider(**kw["steps"]), gr.Slider(**kw["guidance"])
                    c_guide, c_seed = gr.Slider(**kw["guide"]), gr.Number(**kw["seed"])
                compare_btn = gr.Button("Compare", variant="primary")
                c_result = gr.HTML()
                c_table = gr.Markdown()
                compare_btn.click(h.compare, [c_breed, c_steps, c_guidance, c_seed, c_guide], [c_result, c_table],
                                  api_name="compare", preprocess=False)

            with gr.Tab("About", id="about"):
                gr.Markdown(about(sources, backends), elem_id="weights-note")

        def show_thumbnails():
            images = thumbs.get(timeout=120)
            if images is None:
                return gr.update(), "**Pick a breed** by name (the pictures could not be drawn)"
            return [(img, name) for img, name in zip(images, BREEDS)], "**Pick a breed**"

        def open_link(request: gr.Request):
            """Apply a share link's query parameters (share.read_query) to the controls."""
            link = share.read_query(dict(request.query_params) if request else {}, facts.fast_steps, facts.has_guide)
            m = link.mode or "quality"
            out = {notice: gr.update(value=link.notice, visible=bool(link.notice)), mode: gr.update(value=m)}
            updates = controls.mode_updates(facts, m, link.steps)
            out |= dict(zip((steps, fast_steps, guidance, guide, sampler), updates))
            if link.guidance is not None:
                out[guidance] = gr.update(value=link.guidance, interactive=True)
            if link.guide is not None:
                out[guide] = gr.update(value=link.guide, interactive=True)
            for target in (seed, b_seed):
                out[target] = gr.update(value=link.seed if link.seed is not None else 0)
            if link.breed is not None:
                out[breed] = gr.update(value=link.breed)
                out[picker] = gr.update(selected_index=BREEDS.index(link.breed))
            if link.blend is not None:
                slots = list(link.blend.items()) + [(None, 0.0)] * (3 - len(link.blend))
                for (name, weight), (b_in, w_in) in zip(slots, zip(blend_inputs[::2], blend_inputs[1::2])):
                    out[b_in], out[w_in] = gr.update(value=name), gr.update(value=weight)
                out[b_steps] = gr.update(value=link.steps or facts.steps)
                out[b_guidance] = gr.update(value=link.guidance if link.guidance is not None else facts.guidance)
                out[b_guide] = gr.update(value=link.guide if link.guide is not None else kw["guide"]["value"])
                out[tabs] = gr.Tabs(selected="blend")
            return out

        link_outputs = [notice, mode, steps, fast_steps, guidance, guide, sampler, seed, b_seed, breed, picker,
                        *blend_inputs, b_steps, b_guidance, b_guide, tabs]
        demo.load(open_link, None, link_outputs, api_visibility="private", queue=False)
        demo.load(show_thumbnails, None, [picker, picker_note], api_visibility="private", queue=False, show_progress="hidden")

    demo.thumbnails = thumbs  # whoever closes the app early can wait for the drawing to end
    return demo
