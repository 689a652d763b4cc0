"""``facealbum people``, ``name``, ``merge``, ``split``, ``reject``, ``hide``, ``tag``, ``undo`` ...

The command-line client of ``engine.people``: each command opens the
catalog, calls one engine function and prints through ``engine.cli.output``.
No decision about people is made here.
"""

import argparse
import dataclasses
from pathlib import Path

from engine import people
from engine.catalog import Catalog
from engine.catalog.records import box_in_photo
from engine.cli import faces_cmd
from engine.cli.common import add_command, catalog_id, open_catalog, stop_on_interrupt
from engine.cli.output import ProgressBar, emit, emit_json, table, warn
from engine.errors import FaceAlbumError
from engine.people.evaluate import EvalResult, evaluate_folder
from engine.progress import CancelToken


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    p = add_command(sub, "people", "list the people found, largest first")
    p.add_argument("--json", action="store_true", help="print JSON (id, name, faces, photos...)")
    p.add_argument("--all", action="store_true", help="include hidden people")
    p.set_defaults(func=cmd_people)

    p = add_command(sub, "faces", "list the faces of one person, or --all faces, or faces "
                    "--like FACE (face search)")
    p.add_argument("person", type=catalog_id, nargs="?", default=None)
    p.add_argument("--all", action="store_true",
                   help="every face of the catalog: photo, box, score, person, state")
    p.add_argument("--like", type=catalog_id, default=None, metavar="FACE",
                   help="the faces most likely the same person as FACE, nearest first, "
                   "weighed with the faces around them (a person's profiles and photos "
                   "from other years come up too)")
    p.add_argument("--limit", type=int, default=None, metavar="N",
                   help="with --like: how many faces (default 20)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_faces)

    p = add_command(sub, "name", "name a person (an empty name removes it)")
    p.add_argument("person", type=catalog_id)
    p.add_argument("name")
    p.set_defaults(func=cmd_name)

    p = add_command(sub, "merge", "merge people into one")
    p.add_argument("sources", type=catalog_id, nargs="+", metavar="SOURCE")
    p.add_argument("--into", type=catalog_id, required=True, metavar="TARGET")
    p.set_defaults(func=cmd_merge)

    p = add_command(sub, "split", "move faces to a new person, or to --to PERSON")
    p.add_argument("faces", type=catalog_id, nargs="+", metavar="FACE")
    p.add_argument("--to", type=catalog_id, default=None, metavar="PERSON")
    p.set_defaults(func=cmd_split)

    p = add_command(sub, "confirm", "say that faces are this person")
    p.add_argument("faces", type=catalog_id, nargs="+", metavar="FACE")
    p.add_argument("--as", dest="person", type=catalog_id, required=True, metavar="PERSON")
    p.set_defaults(func=cmd_confirm)

    p = add_command(sub, "reject", "say that faces are not this person (remembered forever)")
    p.add_argument("faces", type=catalog_id, nargs="+", metavar="FACE")
    p.add_argument("--from", dest="person", type=catalog_id, required=True, metavar="PERSON")
    p.set_defaults(func=cmd_reject)

    p = add_command(sub, "mark", "mark faces as not a face, a stranger, or a face again")
    p.add_argument("faces", type=catalog_id, nargs="+", metavar="FACE")
    p.add_argument("--as", dest="state", choices=people.FACE_STATES, required=True)
    p.set_defaults(func=cmd_mark)

    p = add_command(sub, "hide", "hide a person from the list (--show to show again)")
    p.add_argument("person", type=catalog_id)
    p.add_argument("--show", action="store_true")
    p.set_defaults(func=cmd_hide)

    p = add_command(sub, "tag", "add a face the scan missed, drawn as a box, and name it")
    p.add_argument("photo", metavar="PHOTO",
                   help="the photo: its path (absolute, or relative to its scanned folder as "
                        "`facealbum people --json` prints it) or its id")
    p.add_argument("--box", required=True, metavar="X,Y,W,H",
                   help="the face's box in pixels of the upright photo")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--name", default=None,
                     help="the person's name: their person if someone has it, else a new one")
    who.add_argument("--person", type=catalog_id, default=None, metavar="ID",
                     help="put the face in this person")
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="cpu",
                   help="where to run the detector and embedder (default cpu: one face)")
    p.add_argument("--json", action="store_true", help="print the new face as JSON")
    p.set_defaults(func=cmd_tag)

    for name, text in (("undo", "take back the last change"), ("redo", "do the undone change")):
        p = add_command(sub, name, text)
        p.set_defaults(func=cmd_undo if name == "undo" else cmd_redo)

    p = add_command(sub, "history", "list the changes made, newest first")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_history)

    p = add_command(sub, "suggest", "unnamed people and faces most likely to be this person")
    p.add_argument("person", type=catalog_id)
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_suggest)

    p = add_command(sub, "recluster", "group every face into people again, keeping every fact")
    _add_cluster_options(p)
    p.add_argument("--preview", action="store_true",
                   help="only print how many people this strictness would give")
    p.set_defaults(func=cmd_recluster)

    p = add_command(sub, "eval", "measure clustering on a folder of identity folders (like LFW)")
    p.add_argument("folder", type=Path, metavar="DIR")
    p.add_argument("--pairs", type=Path, default=None, help="LFW pairs file for verification")
    p.add_argument("--min-images", type=int, default=1, metavar="N",
                   help="only identities with at least N photos")
    p.add_argument("--max-per-identity", type=int, default=None, metavar="M",
                   help="at most M photos of one identity")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep the scanned catalog here so a second run scans nothing")
    _add_cluster_options(p)
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--embedder", default=None, help="embedder model: sface (default), facenet")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)


def _add_cluster_options(p: argparse.ArgumentParser) -> None:
    defaults = people.ClusterParams()
    p.add_argument("--strictness", type=float, default=people.DEFAULT_STRICTNESS,
                   help="0 (loose: fewer, bigger people) to 1 (strict); default "
                        f"{people.DEFAULT_STRICTNESS}, "
                        "which merges under a squared distance of "
                        f"{people.threshold_for_strictness(people.DEFAULT_STRICTNESS)}")
    p.add_argument("--min-size", type=int, default=defaults.min_size, metavar="N",
                   help="faces an unnamed group needs to become a person "
                        f"(default {defaults.min_size})")
    p.add_argument("--neighbours", type=int, default=defaults.neighbours, metavar="K",
                   help=f"links per face in the neighbour graph (default {defaults.neighbours})")
    p.add_argument("--attach-rate", type=float, default=defaults.attach_rate, metavar="R",
                   help="largest expected share of wrong joins when lone faces join their "
                        f"nearest person; 0 turns joining off (default {defaults.attach_rate})")


def _cluster_params(args: argparse.Namespace) -> people.ClusterParams:
    return dataclasses.replace(
        people.params_for_strictness(args.strictness), min_size=args.min_size,
        neighbours=args.neighbours, attach_rate=args.attach_rate,
    )


def cmd_people(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        found = people.people(cat, include_hidden=args.all)
    if args.json:
        emit_json([p.to_json() for p in found])
        return 0
    if not found:
        emit("No people yet: `facealbum scan FOLDER` finds faces and groups them.")
        return 0
    rows = [
        [str(p.id), p.label + (" (hidden)" if p.hidden else ""), str(p.face_count),
         str(p.photo_count), str(p.cover_face_id)]
        for p in found
    ]
    table(rows, ["id", "name", "faces", "photos", "cover"])
    return 0


def cmd_faces(args: argparse.Namespace) -> int:
    if args.like is not None:
        return faces_cmd.faces_like(args)
    if args.limit is not None:
        raise FaceAlbumError(
            f"--limit counts the faces of --like FACE (a face search); `faces` lists "
            f"every face it is asked for, so drop --limit {args.limit}"
        )
    if args.all or args.person is None:
        return faces_cmd.faces_all_or_explain(args)
    with open_catalog(args) as cat:
        faces = people.person_faces(cat, args.person)
        photos = {f.photo_id: cat.photo(f.photo_id) for f in faces}
    rows = [
        {"id": f.id, "photo": photos[f.photo_id].display_path, "confirmed": f.confirmed,
         "quality": round(f.quality, 3),
         "box": [round(v, 1) for v in box_in_photo(
             f.box, photos[f.photo_id].width, photos[f.photo_id].height)]}
        for f in faces
    ]
    if args.json:
        emit_json(rows)
    else:
        table([[str(r["id"]), str(r["photo"]), "yes" if r["confirmed"] else "",
                str(r["quality"])] for r in rows], ["face", "photo", "confirmed", "quality"])
    return 0


def cmd_name(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        people.name_person(cat, args.person, args.name)
        _say_last(cat)
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        people.merge_people(cat, args.sources, args.into)
        _say_last(cat)
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        people.split_faces(cat, args.faces, args.to)
        _say_last(cat)
    return 0


def cmd_confirm(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        people.confirm_faces(cat, args.faces, args.person)
        _say_last(cat)
    return 0


def cmd_reject(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        people.reject_faces(cat, args.faces, args.person)
        _say_last(cat)
    return 0


def cmd_mark(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        people.mark_faces(cat, args.faces, args.state)
        _say_last(cat)
    return 0


def cmd_hide(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        people.hide_person(cat, args.person, hidden=not args.show)
        _say_last(cat)
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    # Measuring a face loads the models: imported here, so `--help` stays light.
    from engine.people.tagging import draw_face, find_photo, parse_box

    box = parse_box(args.box)
    with open_catalog(args) as cat:
        photo = find_photo(cat, args.photo)
        face_id = draw_face(cat, photo, box, name=args.name, person_id=args.person,
                            device=args.device)
        face = cat.face(face_id)
        if args.json:
            emit_json({"face": face.id, "photo": photo.id, "path": photo.display_path,
                       "person": face.person_id, "box": [round(v, 1) for v in face.box],
                       "landmarks_found": face.score > 0})
        else:
            _say_last(cat)
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        op = people.undo(cat)
    emit(f"Undid: {op.summary}" if op else "Nothing to undo.")
    return 0


def cmd_redo(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        op = people.redo(cat)
    emit(f"Redid: {op.summary}" if op else "Nothing to redo.")
    return 0


def cmd_history(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        ops = people.history(cat, limit=args.limit)
    if args.json:
        emit_json([{"id": o.id, "at": o.at, "kind": o.kind, "summary": o.summary,
                    "undone": o.undone} for o in ops])
    elif not ops:
        emit("No changes yet.")
    else:
        table([[str(o.id), o.kind, o.summary + (" (undone)" if o.undone else "")] for o in ops],
              ["id", "kind", "change"])
    return 0


def cmd_suggest(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        found = people.suggest(cat, args.person, limit=args.limit)
    if args.json:
        emit_json([s.to_json() for s in found])
    elif not found:
        emit("No suggestions: no unnamed person or lone face is near this person.")
    else:
        table([[s.kind, "" if s.person_id is None else str(s.person_id),
                " ".join(str(f) for f in s.face_ids[:10]) + (" ..." if len(s.face_ids) > 10
                                                            else ""),
                f"{s.distance:.3f}", f"{s.context_distance:.3f}"] for s in found],
              ["kind", "person", "faces", "distance", "in context"])
    return 0


def cmd_recluster(args: argparse.Namespace) -> int:
    with open_catalog(args) as cat:
        params = _cluster_params(args)
        if args.preview:
            emit(str(people.preview_cluster_count(cat, params=params)))
            return 0
        cancel = CancelToken()
        with stop_on_interrupt(cancel, "step"):
            ProgressBar(unit="steps").drive(people.recluster(cat, params=params, cancel=cancel))
        count = len(people.people(cat, include_hidden=True))
    emit(f"{count} people.")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from engine.scan import ScanOptions

    defaults = ScanOptions()
    options = ScanOptions(embedder=args.embedder or defaults.embedder, device=args.device)
    result = EvalResult()
    cancel = CancelToken()
    with stop_on_interrupt(cancel, "photo"):
        ProgressBar(unit="items").drive(
            evaluate_folder(
                args.folder, result, pairs_file=args.pairs, min_images=args.min_images,
                max_per_identity=args.max_per_identity,
                params=_cluster_params(args),
                workdir=args.workdir, scan_options=options, cancel=cancel,
            )
        )
    data = result.to_json()
    if args.json:
        emit_json(data)
        return 0
    s = result.scores
    if s is None:
        warn("nothing was scored")
        return 1
    emit(f"{s.faces} faces of {s.identities} identities -> {s.clusters} clusters, "
         f"{s.unassigned_fraction:.1%} left unassigned "
         f"({result.photos_without_face} photos without a face)")
    emit(f"BCubed    precision {s.bcubed_precision:.4f}  recall {s.bcubed_recall:.4f}  "
         f"F1 {s.bcubed_f1:.4f}")
    emit(f"pairwise  precision {s.pairwise_precision:.4f}  recall {s.pairwise_recall:.4f}  "
         f"F1 {s.pairwise_f1:.4f}")
    if result.verification_accuracy is not None:
        emit(f"verification accuracy {result.verification_accuracy:.4f} "
             f"+- {result.verification_std:.4f} over {result.pairs} pairs")
    if result.context_verification_accuracy is not None:
        emit(f"verification in context {result.context_verification_accuracy:.4f} "
             f"+- {result.context_verification_std:.4f} (each pair weighed with the "
             f"faces around it, as face search ranks them)")
    return 0


def _say_last(cat: Catalog) -> None:
    ops = people.history(cat, limit=1)
    if ops:
        emit(ops[0].summary + ".")
