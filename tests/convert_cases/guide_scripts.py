"""The guide's sample conversion scripts, transcribed as functions (the reference for issue 3.5).

Each function keeps the script's logic line for line (guide L4180-4318 COCO, L4415-4482 Ground
Truth multi-label, L4661-4775 CSV); only S3 uploads, logging and argument parsing are removed, and
inputs and outputs are parameters. They return the lines the script would write, parsed, so that
tests can compare keys and values with the converters' lines. Where the script crashes on an
input, so does its transcription: the tests use them on inputs the scripts handle.
"""

from __future__ import annotations

import csv
import datetime
import json
import os


def coco_script(coco_json_file: str, s3_path: str, job_name: str,
                label_attribute: str = "bounding-box") -> list[dict]:
    """L4213-4318: COCO -> Custom Labels lines."""

    class cl_json_line:  # noqa: N801 - the script's name
        def __init__(self, job, img):
            sizes = []
            image_size = {}
            image_size["width"] = img["width"]
            image_size["depth"] = 3
            image_size["height"] = img["height"]
            sizes.append(image_size)

            bounding_box = {}
            bounding_box["annotations"] = []
            bounding_box["image_size"] = sizes

            self.__dict__["source-ref"] = s3_path + img['file_name']
            self.__dict__[job] = bounding_box

            metadata = {}
            metadata['job-name'] = job_name
            metadata['class-map'] = {}
            metadata['human-annotated'] = 'yes'
            metadata['objects'] = []
            date_time_obj = datetime.datetime.strptime(img['date_captured'], '%Y-%m-%d %H:%M:%S')
            metadata['creation-date'] = date_time_obj.strftime('%Y-%m-%dT%H:%M:%S')
            metadata['type'] = 'groundtruth/object-detection'

            self.__dict__[job + '-metadata'] = metadata

    with open(coco_json_file) as f:
        js = json.load(f)
        images = js['images']
        categories = js['categories']
        annotations = js['annotations']

    images_dict = {image['id']: cl_json_line(label_attribute, image) for image in images}

    for annotation in annotations:
        image = images_dict[annotation['image_id']]
        cl_bounding_box = {}
        cl_bounding_box['left'] = annotation['bbox'][0]
        cl_bounding_box['top'] = annotation['bbox'][1]
        cl_bounding_box['width'] = annotation['bbox'][2]
        cl_bounding_box['height'] = annotation['bbox'][3]
        cl_bounding_box['class_id'] = annotation['category_id']
        getattr(image, label_attribute)['annotations'].append(cl_bounding_box)
        for category in categories:
            if annotation['category_id'] == category['id']:
                getattr(image, label_attribute + '-metadata')['class-map'][category['id']] = \
                    category['name']
        cl_object = {}
        cl_object['confidence'] = int(1)
        getattr(image, label_attribute + '-metadata')['objects'].append(cl_object)

    return [json.loads(json.dumps(im.__dict__)) for im in images_dict.values()]


def groundtruth_script(ground_truth_manifest_file: str) -> list[dict]:
    """L4415-4482: Ground Truth multi-label -> Custom Labels lines."""
    with open(ground_truth_manifest_file) as gt_file:
        lines = gt_file.readlines()
    out = []
    for line in lines:
        job_name = ''
        old_json = json.loads(line)
        keys = old_json.keys()
        for key in keys:
            if 'source-ref' not in key and '-metadata' not in key:
                job_name = key
        new_json = {}
        new_json['source-ref'] = old_json['source-ref']
        labels = old_json[job_name]
        for index, label in enumerate(labels):
            new_json[f'{job_name}{index}'] = index
            metadata = {}
            metadata['class-name'] = old_json[f'{job_name}-metadata']['class-map'][str(label)]
            metadata['confidence'] = old_json[f'{job_name}-metadata']['confidence-map'][str(label)]
            metadata['type'] = 'groundtruth/image-classification'
            metadata['job-name'] = old_json[f'{job_name}-metadata']['job-name']
            metadata['human-annotated'] = old_json[f'{job_name}-metadata']['human-annotated']
            metadata['creation-date'] = old_json[f'{job_name}-metadata']['creation-date']
            new_json[f'{job_name}{index}-metadata'] = metadata
        out.append(json.loads(json.dumps(new_json)))
    return out


def csv_check_duplicates(csv_file: str, deduplicated_file: str, duplicates_file: str) -> bool:
    """L4661-4710: write the deduplicated and duplicates files; True if duplicates exist."""
    duplicates_found = False
    with open(csv_file, 'r', newline='', encoding="UTF-8") as f, \
            open(deduplicated_file, 'w', encoding="UTF-8") as dedup, \
            open(duplicates_file, 'w', encoding="UTF-8") as duplicates:
        reader = csv.reader(f, delimiter=',')
        dedup_writer = csv.writer(dedup)
        duplicates_writer = csv.writer(duplicates)
        entries = set()
        for row in reader:
            if not ''.join(row).strip():
                continue
            key = row[0]
            if key not in entries:
                dedup_writer.writerow(row)
                entries.add(key)
            else:
                duplicates_writer.writerow(row)
                duplicates_found = True
    if not duplicates_found:
        os.remove(duplicates_file)
        os.remove(deduplicated_file)
    return duplicates_found


def csv_create_manifest(csv_file: str, s3_path: str) -> list[dict]:
    """L4712-4775: CSV -> Custom Labels lines (no file written; the lines are returned)."""
    out = []
    with open(csv_file, newline='', encoding="UTF-8") as csvfile:
        image_classifications = csv.reader(csvfile, delimiter=',', quotechar='|')
        for row in image_classifications:
            source_ref = str(s3_path) + row[0]
            json_line = {}
            json_line['source-ref'] = source_ref
            for index in range(1, len(row)):
                image_level_label = row[index]
                if image_level_label == '':
                    continue
                json_line[image_level_label] = 1
                metadata = {}
                metadata['confidence'] = 1
                metadata['job-name'] = 'labeling-job/' + image_level_label
                metadata['class-name'] = image_level_label
                metadata['human-annotated'] = "yes"
                metadata['creation-date'] = \
                    datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.%f')
                metadata['type'] = "groundtruth/image-classification"
                json_line[f'{image_level_label}-metadata'] = metadata
            out.append(json.loads(json.dumps(json_line)))
    return out
